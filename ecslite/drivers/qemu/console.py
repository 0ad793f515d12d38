"""Read a guest's serial log: the tail for users, and cloud-init's verdict for one boot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
