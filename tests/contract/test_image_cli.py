"""``ecslite image import`` registers any cloud image: files in the store, a catalogue row."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed"),
]


def _ecslite(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ecslite", *args], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_converts_raw_to_a_read_only_qcow2_base_and_lists_it(tmp_path: Path) -> None:
    raw = tmp_path / "cloud.raw"
    with raw.open("wb") as fh:
        fh.truncate(32 * 2**20)
    data = tmp_path / "data"
    _ecslite("image", "import", str(raw), "--name", "Legacy", "--id", "img-7",
             "--no-cloud-init", "--data-dir", str(data))  # fmt: skip
    disk = data / "images" / "img-7" / "disk.qcow2"
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(disk)], capture_output=True, check=True
        ).stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == 32 * 2**20
    assert disk.stat().st_mode & 0o222 == 0  # bases are read-only
    assert "img-7  Legacy  cloud_init=False  boot=bios" in _ecslite(
        "image", "list", "--data-dir", str(data)
    )
