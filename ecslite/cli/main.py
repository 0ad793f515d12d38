"""The ``ecslite`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ecslite import __version__

if TYPE_CHECKING:
    from ecslite.config import Settings

# Each command's module, in the order of ``--help``. A module is imported only when its command
# runs (or for ``--help``): `ecslite servers list` or `ecslite db upgrade` need not import the
# API service, which costs seconds per process start.
COMMANDS: dict[str, str] = {
    "serve": "serve",
    "worker": "worker",
    "seed": "",  # defined here
    "db": "",
    "reinstall": "client",
    "jobs": "client",
    "servers": "servers",
    "hosts": "hosts",
    "credentials": "credentials",
    "image": "images",
    "guests": "guests",
    "ssh": "ssh",
    "reset-password": "access",
    "console-url": "access",
}


def _seed(args: argparse.Namespace) -> int:
    from ecslite.bootstrap import build
    from ecslite.services.setup import SeedError, load_seed, secret_box

    settings = _settings(args)
    container = build(settings)
    try:
        (added,) = container.services.accounts.apply_seeds(
            [load_seed(args.file)], box=secret_box(settings.data_dir)
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

    print(f"schema at revision {upgrade_schema(_settings(args))}")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    from ecslite.config import Settings

    return Settings(
        **{k: v for k in ("data_dir", "database_url") if (v := getattr(args, k, None)) is not None}
    )


def _add_own_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], cmd: str) -> None:
    if cmd == "seed":
        s = sub.add_parser("seed", help="load a declarative seed file into the store (idempotent)")
        s.add_argument("--data-dir", type=Path, default=None)
        s.add_argument("--database-url", default=None)
        s.add_argument("file", type=Path)
        s.set_defaults(func=_seed)
    elif cmd == "db":
        db = sub.add_parser("db", help="database schema")
        dbsub = db.add_subparsers(dest="db_cmd", required=True)
        up = dbsub.add_parser("upgrade", help="apply migrations")
        up.add_argument("--data-dir", type=Path, default=None)
        up.add_argument("--database-url", default=None)
        up.set_defaults(func=_db_upgrade)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of ``command`` (and its module) when it is one."""
    parser = argparse.ArgumentParser(
        prog="ecslite", description="ECS API with OS reinstall from cloud-init images"
    )
    parser.add_argument("--version", action="version", version=f"ecslite {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    if command == "--version":
        wanted: list[str] = []
    else:
        wanted = [command] if command in COMMANDS else list(COMMANDS)
    added: set[str] = set()
    for cmd in wanted:
        module = COMMANDS[cmd]
        if not module:
            _add_own_parsers(sub, cmd)
        elif module not in added:
            added.add(module)
            mod = importlib.import_module(f"ecslite.cli.{module}")
            # serve and worker define one command (add_parser), the others several.
            (getattr(mod, "add_parsers", None) or mod.add_parser)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # "--" ends ecslite's own options: what follows is passed on (`ecslite ssh ID -- CMD`).
    # argparse cannot give a positional list after options, so it never sees this part.
    passthrough: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, passthrough = words[:at], words[at + 1 :]
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    if passthrough and args.cmd != "ssh":
        parser.error("only `ecslite ssh` takes arguments after --")
    args.passthrough = passthrough
    result: int = args.func(args)
    return result
