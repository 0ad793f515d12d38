"""Read a guest's serial log: the tail for users, and cloud-init's verdict for one boot."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Event

from ecslite.drivers.base import BootNotVerified, HostFailure

FINISHED = re.compile(r"Cloud-init v\. \S+ finished at ")
# What cloud-init prints on the console when a module or the user's script failed.
ERRORS = (
    re.compile(r"\[(ERROR|CRITICAL)\]"),
    re.compile(r"Failed to run module"),
    re.compile(r"\[WARNING\]: Running module \S+ .* failed"),
)
TAIL_BYTES = 1 << 20
# getty's prompt ("debian login: "), on a line of its own.
LOGIN_PROMPT = re.compile(r"^\S+ login: ?$", re.MULTILINE)


def read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", "replace").replace("\r", "")


def tail(path: Path, lines: int | None) -> str:
    """Return the last ``lines`` lines of the log (all of its last MiB when None or < 0)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return ""
    text = read_from(path, max(0, size - TAIL_BYTES))
    if lines is None or lines < 0:
        return text
    if lines == 0:
        return ""
    parts = text.splitlines(keepends=True)
    return "".join(parts[-lines:])


@dataclass(frozen=True)
class CloudInitVerdict:
    finished: bool
    errors: list[str]
    finished_line: str = ""


def verdict(text: str) -> CloudInitVerdict:
    """Judge one boot's console text: did cloud-init finish, and with which errors."""
    errors: list[str] = []
    for line in text.splitlines():
        if any(p.search(line) for p in ERRORS):
            errors.append(line.strip())
        if FINISHED.search(line):
            return CloudInitVerdict(finished=True, errors=errors, finished_line=line.strip())
    return CloudInitVerdict(finished=False, errors=errors)


def login_prompt(text: str) -> bool:
    """Did this boot's console text reach a login prompt (a guest without cloud-init is up)?"""
    return LOGIN_PROMPT.search(text) is not None


def wait_login_prompt(
    workdir: Path, *, running: Callable[[], bool], timeout: float, closing: Event
) -> None:
    """Wait until the guest's last boot (its output after ``boot.json``'s offset) shows a login
    prompt; raise BootNotVerified if it stops first, ``timeout`` passes or the service closes."""
    try:
        offset = int(json.loads((workdir / "boot.json").read_text())["serial_offset"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HostFailure("The server was not started by this host.") from exc
    deadline = time.monotonic() + timeout
    while not login_prompt(read_from(workdir / "serial.log", offset)):
        if not running():
            raise BootNotVerified("The guest stopped before it showed a login prompt.")
        if time.monotonic() > deadline or closing.is_set():
            raise BootNotVerified(
                f"The guest showed no login prompt on its console within {timeout:.0f} s."
            )
        time.sleep(0.5)
