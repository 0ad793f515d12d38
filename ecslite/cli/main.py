"""The ``ecslite`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ecslite import __version__
from ecslite.cli import client, credentials, guests, images, serve, servers, ssh, worker


def _seed(args: argparse.Namespace) -> int:
    from ecslite.bootstrap import build
    from ecslite.services.setup import SeedError, apply_seeds, load_seed, secret_box

    settings = serve.settings_from(args)
    container = build(settings)
    try:
        (added,) = apply_seeds(
            [load_seed(args.file)],
            uow_factory=container.uow_factory,
            box=secret_box(settings.data_dir),
            clock=container.clock,
        )
    except SeedError as exc:
        print(f"ecslite seed: refused: {exc}", file=sys.stderr)
        return 2
    finally:
        container.close()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(added.items())) or "nothing new"
    print(f"seed {args.file}: added {summary}")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from ecslite.services.setup import upgrade_schema

    print(f"schema at revision {upgrade_schema(serve.settings_from(args))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecslite", description="ECS API with OS reinstall from cloud-init images"
    )
    parser.add_argument("--version", action="version", version=f"ecslite {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve.add_parser(sub)
    worker.add_parser(sub)
    s = sub.add_parser("seed", help="load a declarative seed file into the store (idempotent)")
    s.add_argument("--data-dir", type=Path, default=None)
    s.add_argument("--database-url", default=None)
    s.add_argument("file", type=Path)
    s.set_defaults(func=_seed)
    db = sub.add_parser("db", help="database schema")
    dbsub = db.add_subparsers(dest="db_cmd", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.add_argument("--data-dir", type=Path, default=None)
    up.add_argument("--database-url", default=None)
    up.set_defaults(func=_db_upgrade)
    client.add_parsers(sub)
    servers.add_parsers(sub)
    credentials.add_parsers(sub)
    images.add_parsers(sub)
    guests.add_parsers(sub)
    ssh.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # "--" ends ecslite's own options: what follows is passed on (`ecslite ssh ID -- CMD`).
    # argparse cannot give a positional list after options, so it never sees this part.
    passthrough: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, passthrough = words[:at], words[at + 1 :]
    parser = build_parser()
    args = parser.parse_args(words)
    if passthrough and args.cmd != "ssh":
        parser.error("only `ecslite ssh` takes arguments after --")
    args.passthrough = passthrough
    result: int = args.func(args)
    return result
