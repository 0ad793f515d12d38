"""``ecslite worker``: run jobs from a shared database, without serving the API.

A worker has no API port, yet it must be watched like an API process: it serves ``/healthz``,
``/readyz`` and ``/metrics`` (and nothing else) on a small listener of its own, on loopback by
default (``--monitor-host``, ``--monitor-port``; port 0 takes a free port and logs it).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

import uvicorn

from ecslite.api.monitor import monitor_app
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
    p.add_argument(
        "--monitor-host", default=None, help="address of /healthz, /readyz, /metrics (127.0.0.1)"
    )
    p.add_argument(
        "--monitor-port", type=int, default=None, help="their port (default 0: any free port)"
    )
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
        sock = socket.create_server((settings.monitor_host, settings.monitor_port))
    except OSError as exc:
        container.close()
        print(
            f"ecslite worker: cannot listen on {settings.monitor_host}:{settings.monitor_port} "
            f"for /healthz and /metrics: {exc.strerror}",
            file=sys.stderr,
            flush=True,
        )
        return 2
    try:
        container.start_runner()
    except HostRefused as exc:
        sock.close()
        container.close()
        print(f"ecslite worker: {exc}", file=sys.stderr, flush=True)
        return 2
    monitor = uvicorn.Server(
        uvicorn.Config(
            monitor_app(container.monitoring, metrics_token=settings.metrics_token),
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    # Not the main thread: uvicorn leaves the signal handlers to this function.
    listener = threading.Thread(
        target=monitor.run, kwargs={"sockets": [sock]}, name="ecslite-monitor", daemon=True
    )
    listener.start()
    host, port = sock.getsockname()[:2]
    log.info(
        "worker started owner=%s threads=%d host_id=%s store=%s monitor=http://%s:%d",
        container.runner.owner,
        settings.runner_threads,
        settings.host_id,
        container.engine.dialect.name,
        host,
        port,
    )
    try:
        stop.wait()
    finally:
        monitor.should_exit = True
        listener.join(5)
        container.close()
    return 0
