"""A seed loads every kind of record through the store's repositories, reads back as written,
and loading it again adds nothing (existing ids are kept, passwords not hashed again)."""

from __future__ import annotations

from pathlib import Path

from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.domain.flavor import Flavor
from ecslite.domain.server import VmState
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument, apply_seed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf0Vt9FVH7EDxGy1H0n6cZ1WAPNk8bL0X5aA0E3iM2z seed"

DOC = {
    "domains": [{"id": "d1", "name": "acme"}],
    "users": [{"id": "u1", "name": "ann", "domain_id": "d1", "password": "Secret-123"}],
    "projects": [{"id": "p1", "name": "eu-de_acme", "domain_id": "d1", "quotas": {"instances": 3}}],
    "access_keys": [{"access_key": "AK1", "secret_key": "SK1", "user_id": "u1"}],
    "images": [{"id": "img1", "name": "Debian 12", "min_disk_gb": 20}],
    # Overrides the built-in s3.small.1 and adds one.
    "flavors": [
        {"id": "s3.small.1", "vcpus": 2, "ram_mb": 2048},
        {"id": "x1", "vcpus": 8, "ram_mb": 8192},
    ],
    "vpcs": [{"id": "vpc1", "project_id": "p1", "name": "net"}],
    "subnets": [{"id": "sn1", "project_id": "p1", "vpc_id": "vpc1", "name": "sub"}],
    "keypairs": [{"user_id": "u1", "name": "kp", "public_key": KEY + "\n"}],
    "kms_keys": [{"id": "cmk1", "project_id": "p1", "alias": "disks"}],
    "servers": [
        {
            "id": "s1",
            "project_id": "p1",
            "user_id": "u1",
            "name": "web",
            "image_id": "img1",
            "status": "ACTIVE",
            "key_name": "kp",
            "system_disk": {"id": "v1", "size_gb": 20},
            "data_disks": [{"id": "v2", "size_gb": 10, "volume_type": "SAS"}],
            "metadata": {"role": "web"},
        }
    ],
    "faults": [{"step": "startServer", "server_id": "s1"}],
}


def test_a_seed_loads_through_the_repositories_once(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path))
    box = SecretBox.from_file(tmp_path / "mk")
    doc = SeedDocument.model_validate(DOC)
    clock = container.clock
    added = apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=clock)
    assert added == {
        "domains": 1,
        "users": 1,
        "projects": 1,
        "access_keys": 1,
        "images": 1,
        "flavors": 2,
        "vpcs": 1,
        "subnets": 1,
        "keypairs": 1,
        "kms_keys": 1,
        "servers": 1,
        "volumes": 2,
        "faults": 1,
    }
    with container.uow_factory(write=False) as uow:
        assert uow.identity.user_by_name("d1", "ann") is not None
        assert (uow.identity.password_hash("u1") or "").startswith("$argon2")
        assert uow.identity.access_key("AK1") is not None
        assert uow.catalog.project("p1") is not None
        assert uow.quotas.quotas("p1").instances == 3
        image = uow.catalog.image("img1")
        assert image is not None and image.min_disk_gb == 20 and image.cloud_init
        assert uow.flavors.get("s3.small.1") == Flavor("s3.small.1", 2, 2048)
        assert uow.networks.subnet("sn1", "p1") is not None
        kp = uow.catalog.keypair("u1", "kp")
        assert kp is not None and kp.public_key == KEY and kp.fingerprint
        key = uow.catalog.kms_key("cmk1", "p1")
        assert key is not None and key.enabled
        server = uow.servers.get("s1")
        assert server is not None and server.vm_state is VmState.ACTIVE
        assert server.metadata == {"role": "web"} and server.host_id == "local"
        disks = uow.volumes.attached_to(["s1"])["s1"]
        assert [(v.id, v.device, v.boot_index, v.image_id) for v in disks] == [
            ("v1", "/dev/vda", 0, "img1"),
            ("v2", "/dev/vdb", None, None),
        ]
        assert len(uow.faults.list()) == 1
        # Seeded records are where the event stream starts, not changes it reports.
        assert uow.events.last_id() == 0
    # Faults are not keyed, so each load adds them again; everything else is kept.
    again = apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=clock)
    assert again == {"faults": 1}
    container.close()
