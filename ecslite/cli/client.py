"""``ecslite reinstall`` and ``ecslite jobs show``: drive a running service over its HTTP API."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ecslite.auth.httpx_auth import SdkHmacAuth, TokenAuth


class Target:
    """Where to send requests and as whom: explicit flags, ``ECSLITE_*`` variables, or
    DIR/demo.json. Requests are signed with the access key (AK/SK, as the official SDK does);
    ``ECSLITE_AUTH_TOKEN`` sends an IAM token instead. The secret key is never a flag, so it
    does not show up in process listings: it comes from ``ECSLITE_SECRET_KEY`` or demo.json.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        info: dict[str, Any] = {}
        demo = (
            Path(args.data_dir or os.environ.get("ECSLITE_DATA_DIR", "./ecslite-data"))
            / "demo.json"
        )
        if demo.exists():
            info = json.loads(demo.read_text())
        self.endpoint = (
            args.endpoint or os.environ.get("ECSLITE_ENDPOINT") or info.get("endpoint") or ""
        ).rstrip("/")
        self.project_id = (
            args.project_id or os.environ.get("ECSLITE_PROJECT_ID") or info.get("project_id")
        )
        if not self.endpoint or not self.project_id:
            raise SystemExit(
                "error: no endpoint/project: pass --endpoint and --project-id, set ECSLITE_ENDPOINT and "
                "ECSLITE_PROJECT_ID, or point --data-dir at a directory with demo.json"
            )
        token = os.environ.get("ECSLITE_AUTH_TOKEN")
        access_key = args.access_key or os.environ.get("ECSLITE_ACCESS_KEY")
        secret_key = os.environ.get("ECSLITE_SECRET_KEY")
        if access_key is None and secret_key is None:
            access_key, secret_key = info.get("access_key"), info.get("secret_key")
        auth: httpx.Auth
        if token:
            auth = TokenAuth(token)
        elif access_key and secret_key:
            auth = SdkHmacAuth(access_key, secret_key, self.project_id)
        else:
            raise SystemExit(
                "error: no credentials: set ECSLITE_ACCESS_KEY and ECSLITE_SECRET_KEY (or "
                "ECSLITE_AUTH_TOKEN), or point --data-dir at a directory with demo.json"
            )
        self.http = httpx.Client(base_url=self.endpoint, timeout=30, auth=auth)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise SystemExit(
                f"error: cannot reach {self.endpoint}: {exc}. Is `ecslite serve` running?"
            ) from None
        data: dict[str, Any] = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            err = data.get("error", {})
            raise SystemExit(
                f"error: HTTP {resp.status_code} {err.get('code')}: {err.get('message')}"
            )
        return data


def common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", help="service URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--project-id")
    p.add_argument("--data-dir", help="read endpoint, project and keys from DIR/demo.json")
    p.add_argument("--access-key", help="access key (AK); its secret comes from ECSLITE_SECRET_KEY")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reinstall", help="reinstall a server's OS through the API")
    p.add_argument("server_id")
    cred = p.add_mutually_exclusive_group(required=True)
    cred.add_argument("--keyname", help="key pair name (needs --userid)")
    cred.add_argument(
        "--password-stdin", action="store_true", help="read the admin password from stdin"
    )
    p.add_argument("--user-data", type=Path, help="file injected as user_data")
    p.add_argument("--userid", help="owner of the key pair")
    p.add_argument(
        "--stop", action="store_true", help="stop a running server first (withStopServer)"
    )
    p.add_argument("--encrypt", metavar="CMK_ID", help="encrypt the new system disk with this CMK")
    p.add_argument("--watch", action="store_true", help="show progress until the job ends")
    common_arguments(p)
    p.set_defaults(func=reinstall)

    j = sub.add_parser("jobs", help="inspect jobs")
    jsub = j.add_subparsers(dest="jobs_cmd", required=True)
    show = jsub.add_parser("show", help="print a job as JSON")
    show.add_argument("job_id")
    common_arguments(show)
    show.set_defaults(func=show_job)


def reinstall(args: argparse.Namespace) -> int:
    target = Target(args)
    body: dict[str, Any] = {}
    if args.keyname:
        body.update(keyname=args.keyname, userid=args.userid)
    if args.password_stdin:
        body["adminpass"] = sys.stdin.readline().rstrip("\n")
    meta: dict[str, str] = {}
    if args.user_data:
        meta["user_data"] = base64.b64encode(args.user_data.read_bytes()).decode()
    if args.encrypt:
        meta.update({"__system__encrypted": "1", "__system__cmkid": args.encrypt})
    if meta:
        body["metadata"] = meta
    if args.stop:
        body["mode"] = "withStopServer"
    resp = target.call(
        "POST",
        f"/v2/{target.project_id}/cloudservers/{args.server_id}/reinstallos",
        {"os-reinstall": body},
    )
    job_id = resp["job_id"]
    print(f"job {job_id} accepted")
    if not args.watch:
        return 0
    return watch(target, job_id)


def watch(target: Target, job_id: str, *, interval: float = 0.5) -> int:
    """Print each step as it starts and ends; return 0 on SUCCESS, 1 on FAIL."""
    seen: dict[str, str] = {}
    start = time.monotonic()
    while True:
        job = target.call("GET", f"/v1/{target.project_id}/jobs/{job_id}")
        subs = job.get("entities", {}).get("sub_jobs", [])
        for i, sub in enumerate(subs, 1):
            if seen.get(sub["job_id"]) != sub["status"]:
                seen[sub["job_id"]] = sub["status"]
                if sub["status"] != "INIT":
                    extra = (
                        f" ({sub['error_code']}: {sub['fail_reason']})"
                        if sub.get("fail_reason")
                        else ""
                    )
                    print(
                        f"[{time.monotonic() - start:6.1f}s] step {i}/{len(subs)} {sub['job_type']:<20} {sub['status']}{extra}",
                        flush=True,
                    )
        if job["status"] in ("SUCCESS", "FAIL"):
            if job["status"] == "SUCCESS":
                print(f"job {job_id} SUCCESS")
                return 0
            print(f"job {job_id} FAIL: {job.get('error_code')}: {job.get('fail_reason')}")
            return 1
        time.sleep(interval)


def show_job(args: argparse.Namespace) -> int:
    target = Target(args)
    print(json.dumps(target.call("GET", f"/v1/{target.project_id}/jobs/{args.job_id}"), indent=2))
    return 0
