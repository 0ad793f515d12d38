"""``ecslite ssh SERVER_ID [-i KEY] [-- CMD]``: log in to a server's guest as root.

The guest's SSH port is forwarded to the host (``metadata.ssh_forward`` in ShowServer), so this
asks the API for the forward and then runs the system's ``ssh`` client on it. Host keys change
with every reinstall (a new disk makes new keys), so they are not recorded in the user's
known_hosts; with ``--data-dir`` the demo tenant's private key is the default identity.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ecslite.cli.client import Target, common_arguments


def ssh_command(forward: str, *, key: Path | None, command: list[str]) -> list[str]:
    """Return the ssh argv for logging in as root through ``forward`` (``HOST:PORT``)."""
    host, _, port = forward.rpartition(":")
    argv = ["ssh", "-p", port, "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]  # fmt: skip
    if key is not None:
        # With a key, a refused key is an answer, not a cue to ask for the root password.
        argv += ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    return [*argv, f"root@{host}", *command]


def run(args: argparse.Namespace) -> int:
    target = Target(args)
    server = target.call("GET", f"/v1/{target.project_id}/cloudservers/{args.server_id}")["server"]
    forward = server.get("metadata", {}).get("ssh_forward")
    if not forward:
        raise SystemExit(
            f"error: server {args.server_id} has no SSH forward (the sim driver runs no guests; "
            "a qemu guest gets one when it first starts)"
        )
    key: Path | None = args.identity
    if key is None and args.data_dir:
        demo_key = Path(args.data_dir) / "demo-key.pem"
        key = demo_key if demo_key.exists() else None
    if shutil.which("ssh") is None:
        raise SystemExit("error: no ssh client on this host (apt-get install openssh-client)")
    # Everything after "--" (split off by cli.main, options included) is the remote command.
    argv = ssh_command(forward, key=key, command=list(args.passthrough))
    os.execvp(argv[0], argv)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ssh",
        help="log in to a server's guest as root (qemu driver)",
        usage="ecslite ssh SERVER_ID [-i KEY] [--data-dir DIR | --endpoint URL ...] [-- CMD ...]",
    )
    p.add_argument("server_id")
    p.add_argument(
        "-i", "--identity", type=Path, help="private key (default with --data-dir: demo-key.pem)"
    )
    common_arguments(p)
    p.set_defaults(func=run)
