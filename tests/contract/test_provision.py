"""Start-up provisioning gives seeded records real disks and attachments, idempotently, on
their own host only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.drivers.qemu import QemuDriver
from ecslite.services.provision import provision
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument, apply_seed

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed"),
]


def test_provision_creates_disks_and_attachments_and_reports_strays(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", driver="qemu", qemu_accel="tcg")
    c = build(settings)
    try:
        assert isinstance(c.driver, QemuDriver)
        base = tmp_path / "base.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
        c.driver.images.add("img", name="tiny", disk=base)
        doc = SeedDocument.model_validate(
            {
                "domains": [{"id": "d", "name": "d"}],
                "projects": [{"id": "p", "name": "p", "domain_id": "d"}],
                "images": [{"id": "img", "name": "tiny"}],
                "servers": [
                    {
                        "id": "s1",
                        "project_id": "p",
                        "user_id": "u",
                        "name": "one",
                        "image_id": "img",
                        "system_disk": {"id": "sys", "size_gb": 1},
                        "data_disks": [{"id": "data", "size_gb": 1}],
                    }
                ],
            }
        )
        apply_seed(
            doc,
            uow_factory=c.uow_factory,
            box=SecretBox.from_file(settings.data_dir / "master.key"),
            clock=c.clock,
        )
        (c.driver.volumes_dir / "leftover.qcow2").write_bytes(b"x")

        # Another host's start-up leaves this host's servers alone: no disk, no guest.
        elsewhere = provision(c.uow_factory, c.driver, host_id="h2")
        assert (elsewhere.disks, elsewhere.started) == (0, 0)
        assert not c.driver.disk_path("sys").exists()

        report = provision(c.uow_factory, c.driver, host_id="local")
        again = provision(c.uow_factory, c.driver, host_id="local")

        assert report.disks == again.disks == 2 and report.started == 0
        assert c.driver.disk_path("sys").exists() and c.driver.disk_path("data").exists()
        attached = json.loads((c.driver.server_dir("s1") / "attachments.json").read_text())
        assert {(d["volume_id"], d["device"], d["boot_index"]) for d in attached["disks"]} == {
            ("sys", "/dev/vda", 0),
            ("data", "/dev/vdb", None),
        }
        assert any("leftover.qcow2" in p for p in report.problems)
        assert (c.driver.volumes_dir / "leftover.qcow2").exists()  # reported, never deleted
    finally:
        c.close()
