"""``ecslite reinstall`` and ``ecslite jobs show|watch``: drive a running service over its API.

Watching follows the service's event stream (``GET /v1/{project_id}/events?job_id=``), and
resumes it with ``Last-Event-ID`` when the connection drops, so no step is missed or repeated.
"""

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
from httpx_sse import SSEError, connect_sse

from ecslite.auth.httpx_auth import SdkHmacAuth, TokenAuth
from ecslite.cli.hosts import add_jobs_cancel, add_jobs_fail


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
        return _checked(resp)


def _checked(resp: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code >= 400:
        err = data.get("error", {})
        raise SystemExit(f"error: HTTP {resp.status_code} {err.get('code')}: {err.get('message')}")
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
    w = jsub.add_parser("watch", help="follow a job's steps live until it ends")
    w.add_argument("job_id")
    common_arguments(w)
    w.set_defaults(func=watch_job)
    add_jobs_cancel(jsub)
    add_jobs_fail(jsub)


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


# Reconnect attempts when the stream drops before the job ended (a restarting service).
RECONNECTS = 10


def watch(target: Target, job_id: str) -> int:
    """Print each step as it starts and ends; return 0 on SUCCESS, 1 on FAIL."""
    progress = _Progress(job_id)
    last_id: str | None = None
    failures = 0
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with connect_sse(
                target.http,
                "GET",
                f"/v1/{target.project_id}/events",
                params={"job_id": job_id},
                headers=headers,
                timeout=httpx.Timeout(30, read=60),
            ) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    _checked(source.response)
                for event in source.iter_sse():
                    last_id = event.id or last_id
                    failures = 0
                    if event.event == "job":
                        done = progress.show(json.loads(event.data))
                        if done is not None:
                            return done
        except (httpx.TransportError, SSEError) as exc:
            failures += 1
            if failures > RECONNECTS:
                raise SystemExit(
                    f"error: lost the event stream of {target.endpoint}: {exc}"
                ) from None
            time.sleep(min(failures, 5))


class _Progress:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.seen: dict[str, str] = {}
        self.start = time.monotonic()

    def show(self, job: dict[str, Any]) -> int | None:
        """Print what changed; return the exit code once the job ended."""
        subs = job.get("entities", {}).get("sub_jobs", [])
        for i, sub in enumerate(subs, 1):
            if self.seen.get(sub["job_id"]) == sub["status"]:
                continue
            self.seen[sub["job_id"]] = sub["status"]
            if sub["status"] == "INIT":
                continue
            extra = (
                f" ({sub['error_code']}: {sub['fail_reason']})" if sub.get("fail_reason") else ""
            )
            elapsed = time.monotonic() - self.start
            print(
                f"[{elapsed:6.1f}s] step {i}/{len(subs)} {sub['job_type']:<20} {sub['status']}{extra}",
                flush=True,
            )
        if job["status"] == "SUCCESS":
            print(f"job {self.job_id} SUCCESS", flush=True)
            return 0
        if job["status"] == "FAIL":
            print(f"job {self.job_id} FAIL: {job.get('error_code')}: {job.get('fail_reason')}")
            return 1
        return None


def watch_job(args: argparse.Namespace) -> int:
    return watch(Target(args), args.job_id)


def show_job(args: argparse.Namespace) -> int:
    target = Target(args)
    print(json.dumps(target.call("GET", f"/v1/{target.project_id}/jobs/{args.job_id}"), indent=2))
    return 0
