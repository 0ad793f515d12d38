"""Encrypted system disks: a LUKS overlay whose data key is wrapped by the project's CMK."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecslite.bootstrap import Container, build
from ecslite.config import Settings
from ecslite.domain.resources import Image
from ecslite.domain.server import Volume
from ecslite.drivers.base import DiskSpec, DriverError
from ecslite.drivers.qemu import QemuDriver
from ecslite.store.kms import KeyStore, KmsError
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument, apply_seed

IMAGE = Image(
    id="img-1", name="t", status="active", cloud_init=True, os_type="Linux", min_disk_gb=1
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Container, KeyStore]]:
    settings = Settings(data_dir=tmp_path / "data")
    c = build(settings)
    box = SecretBox.from_file(settings.data_dir / "master.key")
    apply_seed(
        SeedDocument.model_validate(
            {
                "domains": [{"id": "d", "name": "d"}],
                "projects": [{"id": "p", "name": "p", "domain_id": "d"}],
                "kms_keys": [
                    {"id": "cmk-1", "project_id": "p", "alias": "a"},
                    {"id": "cmk-off", "project_id": "p", "alias": "b", "state": "disabled"},
                ],
            }
        ),
        uow_factory=c.uow_factory,
        box=box,
        clock=c.clock,
    )
    try:
        yield c, KeyStore(settings.data_dir / "kms", box=box, uow_factory=c.uow_factory)
    finally:
        c.close()


def test_data_keys_open_only_with_their_cmk_and_project(env: tuple[Container, KeyStore]) -> None:
    _, kms = env
    plain, wrapped = kms.generate_data_key(cmk_id="cmk-1", project_id="p")
    assert plain not in wrapped and len(plain) == 32
    assert kms.decrypt(wrapped, cmk_id="cmk-1", project_id="p") == plain
    with pytest.raises(KmsError):
        kms.decrypt(wrapped, cmk_id="cmk-1", project_id="other")
    with pytest.raises(KmsError):
        kms.generate_data_key(cmk_id="cmk-off", project_id="p")
    material = (kms.root / "cmk-1.cmk").read_bytes()
    assert material.startswith(b"gAAAA")  # sealed (Fernet), never the raw key material


def _driver_and_volume(
    env: tuple[Container, KeyStore], tmp_path: Path, volume_id: str, cmk_id: str
) -> tuple[QemuDriver, Volume]:
    """A qemu driver with a 64 MiB base image, and an encrypted system volume to create on it."""
    c, kms = env
    d = QemuDriver(c.settings.data_dir, data_keys=kms)
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    d.images.add("img-1", name="t", disk=base)
    vol = Volume(
        id=volume_id,
        project_id="p",
        size_gb=1,
        volume_type="SSD",
        status="available",
        image_id="img-1",
        encrypted=True,
        cmk_id=cmk_id,
    )
    return d, vol


@pytest.mark.process
@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_encrypted_system_disk_is_luks_with_a_wrapped_key(
    env: tuple[Container, KeyStore], tmp_path: Path
) -> None:
    c, kms = env
    d, vol = _driver_and_volume(env, tmp_path, "sys-enc", "cmk-1")
    d.create_disk_from_image(DiskSpec(volume=vol, image=IMAGE))
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(d.disk_path("sys-enc"))],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["encrypted"] is True
    assert info["format-specific"]["data"]["encrypt"]["format"] == "luks"
    rec = json.loads(d.key_path("sys-enc").read_text())
    assert rec["cmk_id"] == "cmk-1"
    plain = kms.decrypt(base64.b64decode(rec["wrapped"]), cmk_id="cmk-1", project_id="p")
    assert plain.hex() not in d.key_path("sys-enc").read_text()
    # No plaintext key file is left behind anywhere under the data dir.
    for f in c.settings.data_dir.rglob("*"):
        if f.is_file() and f.stat().st_size < 1 << 20:
            assert plain.hex().encode() not in f.read_bytes(), f
    d.delete_disk(vol)
    assert not d.disk_path("sys-enc").exists() and not d.key_path("sys-enc").exists()


@pytest.mark.process
@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_a_disabled_cmk_refuses_the_disk_and_leaves_nothing(
    env: tuple[Container, KeyStore], tmp_path: Path
) -> None:
    d, vol = _driver_and_volume(env, tmp_path, "sys-x", "cmk-off")
    with pytest.raises(DriverError) as err:
        d.create_disk_from_image(DiskSpec(volume=vol, image=IMAGE))
    assert err.value.code == "Ecs.0912"
    assert not d.disk_path("sys-x").exists() and not d.key_path("sys-x").exists()
