"""Disk files through ``qemu-img``: overlays on an image base, blank data disks, LUKS overlays.

A system disk is a qcow2 overlay whose backing file is the image's read-only base, so creating
one costs the same whatever the image's size. Every creation writes to a temporary name and
renames it into place, so a crash never leaves a half-made disk under a volume's name.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ecslite.drivers.base import HostFailure, ImageUnavailable

# LUKS key derivation is timed by QEMU; without a fixed iteration time the timing probe fails
# intermittently on a busy host ("Unable to get accurate CPU usage"). 100 ms is still a full
# PBKDF2 stretch and keeps creation and opening fast.
LUKS_ITER_TIME_MS = 100
LUKS_ATTEMPTS = 8
CPU_USAGE_FLAKE = "Unable to get accurate CPU usage"


def _qemu_img(args: list[str], *, what: str) -> str:
    try:
        proc = subprocess.run(
            ["qemu-img", *args], capture_output=True, text=True, timeout=600, check=False
        )
    except FileNotFoundError as exc:
        raise HostFailure("qemu-img is not installed on the host.") from exc
    if proc.returncode != 0:
        raise HostFailure(f"{what} failed: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def create_overlay(
    path: Path,
    *,
    base: Path,
    size_gb: int,
    secret_file: Path | None = None,
) -> None:
    """Create ``path`` as a qcow2 overlay of ``base`` (LUKS-encrypted with ``secret_file``).

    Post: ``path`` exists and is complete; if it already existed it is left as it was.
    """
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    base_bytes = virtual_size(base)
    size = max(size_gb * 1024**3, base_bytes)
    args = ["create", "-q", "-f", "qcow2", "-b", str(base.resolve()), "-F", "qcow2"]
    if secret_file is not None:
        args += [
            "--object",
            f"secret,id=sec0,file={secret_file},format=raw",
            "-o",
            f"encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time={LUKS_ITER_TIME_MS}",
        ]
    args += [str(tmp), str(size)]
    try:
        for attempt in range(LUKS_ATTEMPTS if secret_file is not None else 1):
            try:
                _qemu_img(args, what="Creating the system disk")
                break
            except HostFailure as exc:
                # QEMU calibrates PBKDF2 by measuring thread CPU time; with coarse accounting
                # (tick-based, busy VMs) it sometimes measures 0 ms and gives up. Harmless to retry.
                if CPU_USAGE_FLAKE not in exc.message or attempt == LUKS_ATTEMPTS - 1:
                    raise
                tmp.unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def create_blank(path: Path, *, size_gb: int) -> None:
    """Create an empty qcow2 data disk of ``size_gb``. Post: exists; unchanged if it existed."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _qemu_img(
            ["create", "-q", "-f", "qcow2", str(tmp), f"{size_gb}G"], what="Creating a data disk"
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def virtual_size(path: Path) -> int:
    info = json.loads(
        _qemu_img(["info", "-U", "--output=json", str(path)], what=f"Reading {path.name}")
    )
    return int(info["virtual-size"])


def check_base(path: Path) -> None:
    """Refuse a base image that qemu-img cannot read as qcow2 (e.g. truncated or corrupt)."""
    if not path.exists():
        raise ImageUnavailable("The image's base disk is missing from the image store.")
    proc = subprocess.run(
        ["qemu-img", "check", "-U", "-q", "-f", "qcow2", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0,):
        raise ImageUnavailable(
            "The image's base disk is damaged (qemu-img check failed); re-import the image: "
            + proc.stderr.strip()[-300:]
        )
