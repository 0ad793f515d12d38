"""The accelerator probe chooses KVM only when a guest demonstrably executes under it.

Fake QEMU executables stand in for the host's behaviours (a vCPU that never runs, a QEMU that
aborts, a working KVM), so these run the same on every host; the last test boots the probe's
boot sector under real TCG where QEMU is installed, proving the payload itself prints.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecslite.drivers.qemu import accel

pytestmark = pytest.mark.process  # fake QEMU executables, and real QEMU where installed

# Finds the serial file in QEMU's argv (-chardev file,id=ser0,path=...), then behaves as told.
FAKE = """#!{python}
import sys, time
path = next(a.split("path=", 1)[1] for a in sys.argv if "path=" in a)
mode = {mode!r}
if mode == "silent":
    open(path, "wb").close()
    time.sleep(60)
elif mode == "abort":
    sys.stderr.write("kvm_buf_set_msrs: Assertion failed.\\n")
    sys.exit(134)
else:
    with open(path, "wb") as fh:
        fh.write(b"ECSLITE-ACCEL-OK\\n")
    time.sleep(60)
"""


def fake_qemu(tmp_path: Path, mode: str) -> str:
    exe = tmp_path / f"qemu-{mode}"
    exe.write_text(FAKE.format(python=sys.executable, mode=mode))
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
def kvm_device(tmp_path: Path) -> str:
    """A readable, writable stand-in for /dev/kvm, so the probe goes as far as booting."""
    dev = tmp_path / "kvm"
    dev.touch()
    return str(dev)


def test_a_guest_that_starts_but_prints_nothing_means_tcg(tmp_path: Path, kvm_device: str) -> None:
    verdict = accel.probe(fake_qemu(tmp_path, "silent"), timeout=1.0, kvm_device=kvm_device)
    assert verdict.accel == "tcg"
    assert "printed nothing" in verdict.reason


def test_a_qemu_that_aborts_under_kvm_means_tcg(tmp_path: Path, kvm_device: str) -> None:
    verdict = accel.probe(fake_qemu(tmp_path, "abort"), timeout=5.0, kvm_device=kvm_device)
    assert verdict.accel == "tcg"
    assert "kvm_buf_set_msrs" in verdict.reason


def test_a_guest_that_prints_the_marker_means_kvm(tmp_path: Path, kvm_device: str) -> None:
    verdict = accel.probe(fake_qemu(tmp_path, "works"), timeout=5.0, kvm_device=kvm_device)
    assert verdict.accel == "kvm", verdict.reason


def test_no_kvm_device_means_tcg_without_starting_qemu(tmp_path: Path) -> None:
    verdict = accel.probe(
        fake_qemu(tmp_path, "works"), timeout=5.0, kvm_device=str(tmp_path / "absent")
    )
    assert verdict.accel == "tcg"
    assert "absent" in verdict.reason


def test_the_probe_leaves_no_process_behind(tmp_path: Path, kvm_device: str) -> None:
    exe = fake_qemu(tmp_path, "silent")
    accel.probe(exe, timeout=0.5, kvm_device=kvm_device)
    left = subprocess.run(["pgrep", "-f", exe], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == ""


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed")
def test_the_boot_sector_prints_the_marker_under_tcg(tmp_path: Path) -> None:
    disk = tmp_path / "probe.img"
    disk.write_bytes(accel.boot_sector().ljust(64 * 1024, b"\0"))
    serial = tmp_path / "serial.log"
    proc = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-nodefaults",
         "-display", "none", "-m", "32", "-drive", f"file={disk},format=raw,if=ide",
         "-chardev", f"file,id=ser0,path={serial}", "-serial", "chardev:ser0"],
    )  # fmt: skip
    try:
        for _ in range(200):  # up to 20 s on a loaded host; typically well under 1 s
            if serial.exists() and accel.MARKER in serial.read_bytes():
                break
            try:
                proc.wait(0.1)
            except subprocess.TimeoutExpired:
                continue
        assert accel.MARKER in serial.read_bytes()
    finally:
        proc.kill()
        proc.wait()
