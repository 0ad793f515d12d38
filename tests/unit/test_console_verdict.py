"""Reading cloud-init's verdict from a serial log, and the tail users get."""

from __future__ import annotations

from pathlib import Path

from ecslite.drivers.qemu.console import tail, verdict

OK = (
    "[   33.9] cloud-init[323]: Cloud-init v. 22.4.2 running 'init-local' at X. Up 33.48 seconds.\n"
    "[   74.5] cloud-init[432]: Cloud-init v. 22.4.2 finished at Fri, 27 Nov 2026 15:32:03 +0000."
    " Datasource DataSourceConfigDrive.  Up 74.4 seconds\n"
)
FAILED_SCRIPT = (
    "[   70.1] cloud-init[445]: 2026-11-27 15:21:05,711 - cc_scripts_user.py[WARNING]: "
    "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n"
    "[   70.2] cloud-init[445]: 2026-11-27 15:21:05,712 - util.py[WARNING]: Running module "
    "scripts-user (<module 'cloudinit.config.cc_scripts_user'>) failed\n"
    "[   73.9] cloud-init[445]: Cloud-init v. 22.4.2 finished at Fri. Datasource X.  Up 73.8 seconds\n"
)


def test_finished_without_errors() -> None:
    v = verdict(OK)
    assert v.finished and v.errors == []


def test_still_booting() -> None:
    v = verdict(OK.splitlines()[0])
    assert not v.finished


def test_failed_user_script_is_an_error() -> None:
    v = verdict(FAILED_SCRIPT)
    assert v.finished and len(v.errors) == 2


def test_tail_strips_carriage_returns_and_counts_lines(tmp_path: Path) -> None:
    log = tmp_path / "serial.log"
    log.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    assert tail(log, 2) == "two\nthree\n"
    assert tail(log, None) == "one\ntwo\nthree\n"
    assert tail(tmp_path / "missing.log", 5) == ""
