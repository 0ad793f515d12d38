"""``ecslite hosts list|disable|enable|drain``, ``ecslite jobs cancel`` and ``ecslite jobs fail``:
the operator's view of the hosts, stopping a job, and the way out for a job whose host is gone,
over the admin API (``serve --enable-admin``; docs/scale-out.md, "Operator commands")."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN = "/_ecslite/admin"


def _endpoint(args: argparse.Namespace) -> str:
    endpoint = args.endpoint or os.environ.get("ECSLITE_ENDPOINT")
    if not endpoint:
        demo = Path(args.data_dir or os.environ.get("ECSLITE_DATA_DIR", "./ecslite-data"))
        info = json.loads((demo / "demo.json").read_text()) if (demo / "demo.json").exists() else {}
        endpoint = info.get("endpoint")
    if not endpoint:
        raise SystemExit("error: no endpoint: pass --endpoint or set ECSLITE_ENDPOINT")
    return str(endpoint).rstrip("/")


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> dict[str, Any]:
    url = _endpoint(args) + ADMIN + path
    try:
        resp = httpx.request(method, url, json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise SystemExit(f"error: cannot reach {url}: {exc}") from None
    if resp.status_code == 404 and not resp.content.strip().startswith(b'{"error"'):
        raise SystemExit("error: no admin API there: start `ecslite serve` with --enable-admin")
    data: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code >= 400:
        err = data.get("error", {})
        raise SystemExit(f"error: HTTP {resp.status_code} {err.get('code')}: {err.get('message')}")
    return data


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", help="service URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--data-dir", help="read the endpoint from DIR/demo.json")
    p.add_argument("--json", action="store_true", help="print JSON")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    h = sub.add_parser("hosts", help="list, disable, enable and drain hypervisor hosts")
    hsub = h.add_subparsers(dest="hosts_cmd", required=True)
    ls = hsub.add_parser("list", help="hosts: state, heartbeat age, capacity, allocation, jobs")
    _arguments(ls)
    ls.set_defaults(func=list_hosts)
    for name, func, what in (
        ("disable", disable, "no new placements on HOST"),
        ("enable", enable, "HOST takes new placements again"),
        ("drain", drain, "disable HOST and wait until its jobs have ended"),
    ):
        p = hsub.add_parser(name, help=what)
        p.add_argument("host_id")
        if name != "enable":
            p.add_argument("--reason", default=None, help="why (shown by hosts list)")
        if name == "drain":
            p.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
        _arguments(p)
        p.set_defaults(func=func)


def add_jobs_fail(jsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    f = jsub.add_parser(
        "fail", help="end a job whose host is gone for good: FAIL, its servers to ERROR"
    )
    f.add_argument("job_id")
    f.add_argument("--reason", required=True, help="the fault its servers show")
    _arguments(f)
    f.set_defaults(func=fail_job)


def add_jobs_cancel(jsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = jsub.add_parser(
        "cancel", help="stop a running job: it is undone like a failure (FAIL, Ecs.0099)"
    )
    c.add_argument("job_id")
    c.add_argument("--wait", action="store_true", help="wait until the job has ended")
    c.add_argument("--timeout", type=float, default=600.0, help="give up waiting after (s)")
    _arguments(c)
    c.set_defaults(func=cancel_job)


def _row(h: dict[str, Any]) -> str:
    age = h["heartbeat_age"]
    alloc, usable = h["allocated"], h["usable"]
    return (
        f"{h['id']:<12} {h['state']:<5} {h['status']:<11} {h['driver']:<5} "
        f"{h['availability_zone']:<9} {'-' if age is None else f'{age:.0f}s':>6} "
        f"{alloc['vcpus']}/{usable['vcpus']:<7} {alloc['ram_mb']}/{usable['ram_mb']:<13} "
        f"{alloc['disk_gb']}/{usable['disk_gb']:<9} {h['servers']:>7} {h['running_jobs']:>4}"
    )


_HEADER = (
    f"{'HOST':<12} {'STATE':<5} {'STATUS':<11} {'DRIVER':<5} {'ZONE':<9} {'BEAT':>6} "
    f"{'VCPUS':<9} {'RAM_MB':<15} {'DISK_GB':<11} {'SERVERS':>7} {'JOBS':>4}"
)


def list_hosts(args: argparse.Namespace) -> int:
    hosts = _call(args, "GET", "/hosts")["hosts"]
    if args.json:
        print(json.dumps(hosts, indent=2))
        return 0
    print(_HEADER)
    for h in hosts:
        print(_row(h))
    return 0


def disable(args: argparse.Namespace) -> int:
    h = _call(args, "POST", f"/hosts/{args.host_id}/disable", {"reason": args.reason})["host"]
    print(json.dumps(h, indent=2) if args.json else _row(h))
    return 0


def enable(args: argparse.Namespace) -> int:
    h = _call(args, "POST", f"/hosts/{args.host_id}/enable", {})["host"]
    print(json.dumps(h, indent=2) if args.json else _row(h))
    return 0


def drain(args: argparse.Namespace) -> int:
    """Disable, then report the host's unfinished jobs until there are none."""
    _call(args, "POST", f"/hosts/{args.host_id}/disable", {"reason": args.reason or "drain"})
    deadline = time.monotonic() + args.timeout
    last = None
    while True:
        h = _call(args, "GET", f"/hosts/{args.host_id}")["host"]
        if h["running_jobs"] != last:
            last = h["running_jobs"]
            print(f"{args.host_id}: {last} job(s) running", flush=True)
        if last == 0:
            print(f"{args.host_id}: drained (disabled, no jobs)", flush=True)
            return 0
        if time.monotonic() > deadline:
            print(f"{args.host_id}: still {last} job(s) after {args.timeout:.0f}s", file=sys.stderr)
            return 1
        time.sleep(1.0)


def fail_job(args: argparse.Namespace) -> int:
    _call(args, "POST", f"/jobs/{args.job_id}/fail", {"reason": args.reason})
    print(f"{args.job_id}: FAIL ({args.reason})")
    return 0


def _job_line(job: dict[str, Any]) -> str:
    line = f"{job['job_id']}: {job['status']}"
    if job["error_code"]:
        line += f" {job['error_code']} ({job['fail_reason']})"
    return line


def cancel_job(args: argparse.Namespace) -> int:
    """Ask the job to stop; with --wait, follow it until it ends. Exit 0 once it has ended
    cancelled (or the mark is set, without --wait); 1 when it ended otherwise — it was past
    its point of no return — or cannot be cancelled (unknown, already ended); 2 on timeout."""
    job = _call(args, "POST", f"/jobs/{args.job_id}/cancel", {})["job"]
    print(f"{args.job_id}: cancel requested; it stops at its next step boundary", flush=True)
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while job["status"] not in ("SUCCESS", "FAIL"):
        if time.monotonic() > deadline:
            print(
                f"{args.job_id}: still {job['status']} after {args.timeout:.0f}s", file=sys.stderr
            )
            return 2
        time.sleep(0.5)
        job = _call(args, "GET", f"/jobs/{args.job_id}")["job"]
    print(_job_line(job), flush=True)
    return 0 if job["cancelled"] else 1
