"""``ecslite worker``: run jobs from a shared database, without serving the API."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ecslite.bootstrap import DRIVERS
from ecslite.cli.serve import add_host_arguments, build_from, settings_from
from ecslite.services.runtime import HostRefused

log = logging.getLogger("ecslite")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="execute jobs from a shared (PostgreSQL) database")
    p.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL, e.g. postgresql+psycopg://..."
    )
    p.add_argument("--data-dir", type=Path, default=None, help="local state (driver files)")
    # Host-local drivers run jobs inside `serve` on their host (docs/scale-out.md): refused in run.
    p.add_argument("--driver", choices=sorted(DRIVERS), default=None)
    p.add_argument("--sim-delay", type=float, default=None)
    p.add_argument("--threads", type=int, default=None, help="jobs run at once (default 4)")
    add_host_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    driver = settings_from(args).driver
    entry = DRIVERS.get(driver)
    if entry is not None and entry.capabilities.host_local:
        print(
            f"ecslite worker: the {driver} driver keeps its disks and guests on its host; its "
            "jobs run in `ecslite serve` there (docs/scale-out.md)",
            file=sys.stderr,
            flush=True,
        )
        return 2
    built = build_from(args)
    if built is None:
        return 2
    settings, container = built
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping signal=%d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        container.start_runner()
    except HostRefused as exc:
        container.close()
        print(f"ecslite worker: {exc}", file=sys.stderr, flush=True)
        return 2
    log.info(
        "worker started owner=%s threads=%d host_id=%s store=%s",
        container.runner.owner,
        settings.runner_threads,
        settings.host_id,
        container.engine.dialect.name,
    )
    try:
        stop.wait()
    finally:
        container.close()
    return 0
