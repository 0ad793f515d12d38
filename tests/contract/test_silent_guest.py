"""A guest that prints nothing fails its verification early, naming the likely cause.

A real QEMU boots a blank disk with no kernel: the firmware finds nothing to boot and the serial
console stays empty, exactly as a guest whose vCPU never runs. That needs no guest image and
behaves the same on every host, with or without KVM.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import DiskSpec, DriverError
from ecslite.drivers.qemu import QemuDriver, QemuOptions
from tests.contract.test_driver_contract import SERVER

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None,
        reason="QEMU is not installed (apt-get install qemu-system-x86 qemu-utils)",
    ),
]


def _blank_server(tmp_path: Path, *, silent_timeout: float) -> tuple[QemuDriver, Server]:
    d = QemuDriver(
        tmp_path / "data",
        QemuOptions(accel="tcg", vcpus=1, memory_mb=64, silent_timeout=silent_timeout),
    )
    base = tmp_path / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    d.images.add("blank", name="blank", disk=base)
    image = Image(id="blank", name="blank", status="active", cloud_init=True, os_type="Linux",
                  min_disk_gb=1)  # fmt: skip
    vol = Volume(id="sys-blank", project_id="p", size_gb=1, volume_type="SSD", status="in-use",
                 image_id="blank", boot_index=0, device="/dev/vda", server_id=SERVER.id)  # fmt: skip
    d.create_disk_from_image(DiskSpec(volume=vol, image=image))
    d.attach_disk(SERVER, vol, device="/dev/vda", boot_index=0)
    return d, SERVER


def test_a_silent_guest_fails_verification_early_with_the_cause(tmp_path: Path) -> None:
    d, server = _blank_server(tmp_path, silent_timeout=3)
    d.start_server(server, None, size=None)
    try:
        started = time.monotonic()
        with pytest.raises(DriverError) as err:
            d.verify_boot(server, timeout=300)
        # Long before the cloud-init timeout (300 s here); the bound is generous for a
        # loaded host, the figure itself is reported by the closing note, not asserted.
        assert time.monotonic() - started < 120
        message = err.value.message
        assert "wrote nothing to its serial console" in message
        assert "ECSLITE_QEMU_ACCEL" in message and "ECSLITE_QEMU_SILENT_TIMEOUT" in message
        assert d.is_running(server.id)  # the caller's rollback stops it, as for any failure
    finally:
        d.stop_server(server, hard=True)
    assert not d.is_running(server.id)


def test_a_guest_gets_a_recorded_ssh_forward_that_survives_a_restart(tmp_path: Path) -> None:
    d, server = _blank_server(tmp_path, silent_timeout=60)
    assert d.guest_network(server.id) is None  # none before the first start
    d.start_server(server, None, size=None)
    try:
        first = d.guest_network(server.id)
        assert first is not None and first.ssh_host == "127.0.0.1"
        # QEMU listens on the forward: a TCP connection to it is accepted.
        with socket.create_connection((first.ssh_host, first.ssh_port), timeout=5):
            pass
    finally:
        d.stop_server(server, hard=True)
    d.start_server(server, None, size=None)
    try:
        assert d.guest_network(server.id) == first
        assert d.running_guests() == [server.id]
    finally:
        assert d.stop_all_guests(timeout=0) == [server.id]
    assert d.running_guests() == []
