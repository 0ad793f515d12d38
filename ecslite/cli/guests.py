"""``ecslite guests list|stop``: the QEMU guests of a data dir, found by their pidfiles.

Guests outlive the service on purpose (a cloud's servers do not stop when its API restarts),
so an operator needs a way to see and stop them without the service: this reads only the data
dir, never the database.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ecslite.cli.serve import settings_from
from ecslite.services.host import GuestHost, guests


def _driver(args: argparse.Namespace) -> GuestHost | None:
    return guests(settings_from(args).data_dir)


def _list(args: argparse.Namespace) -> int:
    driver = _driver(args)
    for sid in driver.running_guests() if driver else []:
        print(sid)
    return 0


def _stop(args: argparse.Namespace) -> int:
    driver = _driver(args)
    running = driver.running_guests() if driver else []
    if driver is None or not running:
        print("no running guests")
        return 0
    print(f"stopping {len(running)} guest(s) (ACPI power-off, forced after {args.timeout:.0f} s)")
    for sid in driver.stop_all_guests(timeout=args.timeout):
        print(f"stopped {sid}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = sub.add_parser("guests", help="the QEMU guests of a data dir (qemu driver)")
    gsub = g.add_subparsers(dest="guests_cmd", required=True)
    ls = gsub.add_parser("list", help="print the ids of the servers whose guest is running")
    ls.add_argument("--data-dir", type=Path, default=None)
    ls.set_defaults(func=_list)
    st = gsub.add_parser("stop", help="power off every guest of the data dir")
    st.add_argument("--data-dir", type=Path, default=None)
    st.add_argument(
        "--timeout", type=float, default=30.0, help="seconds of ACPI power-off before forcing"
    )
    st.set_defaults(func=_stop)
