"""``ecslite servers create|delete|list``: the server lifecycle from the shell, over the API.

Defaults come from demo.json when there is one (its VPC, subnet and cloud-init image), so
``ecslite servers create web-1 --keyname demo-key --watch`` works against ``serve --demo``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from ecslite.cli.client import Target, common_arguments, watch


def _demo(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.data_dir or os.environ.get("ECSLITE_DATA_DIR", "./ecslite-data")) / "demo.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("servers", help="create, delete and list servers")
    ssub = s.add_subparsers(dest="servers_cmd", required=True)

    c = ssub.add_parser("create", help="create servers (a job; --watch follows it)")
    c.add_argument("name")
    c.add_argument("--image", help="image id (default: demo.json's cloud-init image)")
    c.add_argument("--flavor", default="s6.small.1")
    c.add_argument("--vpc", help="VPC id (default: demo.json's)")
    c.add_argument("--subnet", help="subnet id (default: demo.json's)")
    cred = c.add_mutually_exclusive_group()
    cred.add_argument("--keyname", help="key pair name")
    cred.add_argument(
        "--password-stdin", action="store_true", help="read the admin password from stdin"
    )
    c.add_argument("--user-data", type=Path, help="file injected as user_data")
    c.add_argument("--root-size", type=int, help="system disk GB (default: the image's minimum)")
    c.add_argument(
        "--data-disk", type=int, action="append", default=[], metavar="GB", help="add a data disk"
    )
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--watch", action="store_true", help="show progress until the job ends")
    common_arguments(c)
    c.set_defaults(func=create)

    d = ssub.add_parser("delete", help="delete servers (a job; --watch follows it)")
    d.add_argument("server_ids", nargs="+")
    d.add_argument(
        "--delete-volumes", action="store_true", help="delete data disks too (default: keep)"
    )
    d.add_argument("--watch", action="store_true", help="show progress until the job ends")
    common_arguments(d)
    d.set_defaults(func=delete)

    ls = ssub.add_parser("list", help="list servers: id, name, status, image, flavor, IPs")
    ls.add_argument("--name")
    ls.add_argument("--status")
    common_arguments(ls)
    ls.set_defaults(func=list_servers)


def create(args: argparse.Namespace) -> int:
    target = Target(args)
    demo = _demo(args)
    image = args.image or demo.get("images", {}).get("cloudinit")
    vpc, subnet = args.vpc or demo.get("vpc_id"), args.subnet or demo.get("subnet_id")
    if not (image and vpc and subnet):
        raise SystemExit("error: give --image, --vpc and --subnet (no demo.json to default from)")
    server: dict[str, Any] = {
        "name": args.name,
        "imageRef": image,
        "flavorRef": args.flavor,
        "vpcid": vpc,
        "nics": [{"subnet_id": subnet}],
        "count": args.count,
        "data_volumes": [{"volumetype": "SAS", "size": gb} for gb in args.data_disk],
    }
    if args.root_size:
        server["root_volume"] = {"volumetype": "SSD", "size": args.root_size}
    if args.keyname:
        server["key_name"] = args.keyname
    if args.password_stdin:
        server["adminPass"] = sys.stdin.readline().rstrip("\n")
    if args.user_data:
        server["user_data"] = base64.b64encode(args.user_data.read_bytes()).decode()
    resp = target.call("POST", f"/v1/{target.project_id}/cloudservers", {"server": server})
    print(f"job {resp['job_id']} accepted; servers: {' '.join(resp['serverIds'])}")
    return watch(target, resp["job_id"]) if args.watch else 0


def delete(args: argparse.Namespace) -> int:
    target = Target(args)
    body = {
        "servers": [{"id": sid} for sid in args.server_ids],
        "delete_volume": args.delete_volumes,
    }
    resp = target.call("POST", f"/v1/{target.project_id}/cloudservers/delete", body)
    print(f"job {resp['job_id']} accepted")
    return watch(target, resp["job_id"]) if args.watch else 0


def list_servers(args: argparse.Namespace) -> int:
    target = Target(args)
    query = "&".join(f"{k}={v}" for k, v in (("name", args.name), ("status", args.status)) if v)
    page, rows = 1, []
    while True:
        path = f"/v1/{target.project_id}/cloudservers/detail?limit=100&offset={page}"
        data = target.call("GET", f"{path}&{query}" if query else path)
        rows += data["servers"]
        if len(rows) >= data["count"] or not data["servers"]:
            break
        page += 1
    print(f"{'ID':<36}  {'NAME':<20} {'STATUS':<11} {'FLAVOR':<12} IPS")
    for s in rows:
        ips = ",".join(a["addr"] for net in s["addresses"].values() for a in net)
        print(f"{s['id']:<36}  {s['name']:<20} {s['status']:<11} {s['flavor']['id']:<12} {ips}")
    return 0
