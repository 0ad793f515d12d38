"""``ecslite reset-password SERVER`` and ``ecslite console-url SERVER``: getting into a server
from the shell, over the API (``os-reset-password`` and ``remote_console``).

The new password is read from stdin (or asked for on a terminal without echo), never taken
from the command line, where other users could read it in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import httpx

from ecslite.cli.client import Target, common_arguments, watch


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser(
        "reset-password",
        help="give root a new password (running: through the guest agent; stopped: at next start)",
    )
    r.add_argument("server_id")
    r.add_argument("--watch", action="store_true", help="show progress until the job ends")
    common_arguments(r)
    r.set_defaults(func=reset_password)

    c = sub.add_parser("console-url", help="print a one-time remote console (noVNC) URL")
    c.add_argument("server_id")
    common_arguments(c)
    c.set_defaults(func=console_url)


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def reset_password(args: argparse.Namespace) -> int:
    target = Target(args)
    body = {"reset-password": {"new_password": _password()}}
    path = f"/v1/{target.project_id}/cloudservers/{args.server_id}/os-reset-password"
    try:
        resp = target.http.request("PUT", path, json=body)
    except httpx.HTTPError as exc:
        raise SystemExit(f"error: cannot reach {target.endpoint}: {exc}") from None
    if resp.status_code != 204:
        err = (resp.json() if resp.content else {}).get("error", {})
        raise SystemExit(f"error: HTTP {resp.status_code} {err.get('code')}: {err.get('message')}")
    job_id = resp.headers.get("X-Ecslite-Job-Id", "")
    print(f"job {job_id} accepted")
    return watch(target, job_id) if args.watch and job_id else 0


def console_url(args: argparse.Namespace) -> int:
    target = Target(args)
    path = f"/v1/{target.project_id}/cloudservers/{args.server_id}/remote_console"
    data = target.call("POST", path, {"remote_console": {"type": "novnc", "protocol": "vnc"}})
    print(data["remote_console"]["url"])
    return 0
