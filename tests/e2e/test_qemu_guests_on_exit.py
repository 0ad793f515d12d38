"""A host-local driver's guests at start-up and exit, read from its capabilities.

``serve --driver qemu`` boots the servers recorded ACTIVE at start-up with their flavor's size
(the job-free path: start-up provisioning hands the size to the driver), leaves them running
when it stops, and powers them off with ``--stop-guests-on-exit``. The guest boots a blank disk
(the firmware finds nothing to boot but the guest runs), so no guest image is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from ecslite.drivers.qemu import QemuDriver
from ecslite.images.store import ImageStore
from tests.support import Service, poll

pytestmark = [
    pytest.mark.process,
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None,
        reason="QEMU is not installed (apt-get install qemu-system-x86 qemu-utils)",
    ),
]


def _data_dir(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "data"
    base = tmp_path / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    ImageStore(data_dir / "images").add("img-blank", name="blank", disk=base)
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump(
            {
                "domains": [{"id": "d", "name": "d"}],
                "projects": [{"id": "p", "name": "p", "domain_id": "d"}],
                "images": [{"id": "img-blank", "name": "blank"}],
                "servers": [
                    {
                        "id": "srv-on",
                        "project_id": "p",
                        "user_id": "u",
                        "name": "on",
                        "image_id": "img-blank",
                        "flavor_id": "s3.small.1",  # 1 vCPU, 1 GiB: below the host's caps
                        "status": "ACTIVE",
                        "system_disk": {"id": "sys-on", "size_gb": 1},
                    }
                ],
            }
        )
    )
    return data_dir, seed


def _service(data_dir: Path, seed: Path, database_url: str, *extra: str) -> Service:
    return Service(
        data_dir,
        "--driver",
        "qemu",
        "--seed",
        str(seed),
        *extra,
        database_url=database_url,
        demo=False,
        env={
            "ECSLITE_QEMU_ACCEL": "tcg",
            "ECSLITE_QEMU_VCPUS": "2",
            "ECSLITE_QEMU_MEMORY_MB": "4096",
            "ECSLITE_QEMU_POWERDOWN_TIMEOUT": "1",  # a blank guest ignores the ACPI button
        },
    )


def _qemu_args(data_dir: Path, server_id: str) -> list[str]:
    pid = int((data_dir / "servers" / server_id / "qemu.pid").read_text())
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")


def _kill_guests(data_dir: Path) -> None:
    for pidfile in data_dir.glob("servers/*/qemu.pid"):
        try:
            pid = int(pidfile.read_text())
            if str(data_dir) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_guests_get_their_flavor_and_outlive_the_service_unless_told(
    tmp_path: Path, database_url: str
) -> None:
    data_dir, seed = _data_dir(tmp_path)
    guests = QemuDriver(data_dir)
    svc = _service(data_dir, seed, database_url)
    try:
        svc.start()
        poll(guests.running_guests, until=lambda ids: ids == ["srv-on"], timeout=60)
        args = _qemu_args(data_dir, "srv-on")
        assert args[args.index("-smp") + 1] == "1" and args[args.index("-m") + 1] == "1024"
        svc.stop()
        assert guests.running_guests() == ["srv-on"]  # guests outlive the service

        svc = _service(data_dir, seed, database_url, "--stop-guests-on-exit")
        svc.start()
        assert guests.running_guests() == ["srv-on"]
        svc.stop()  # SIGTERM, as a service manager stops it
        assert guests.running_guests() == [], svc.log()
        assert "guests stopped on exit count=1" in svc.log()
    finally:
        svc.stop()
        _kill_guests(data_dir)
