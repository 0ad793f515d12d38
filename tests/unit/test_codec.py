"""The stored JSON of job params and boot configs is a contract across upgrades: a job accepted
by the previous release resumes under this one. Each record decodes from a document written in
today's format (the literals below, as the hand-written serializers of before wrote them),
encodes back to the same document, and survives a round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecslite.domain.boot import BootConfig
from ecslite.domain.codec import decode, encode
from ecslite.domain.job import JobType
from ecslite.domain.reinstall import ReinstallParams
from ecslite.domain.server import VmState
from ecslite.jobs.create import CreateParams, DiskPlan, ServerBuild
from ecslite.jobs.delete import DeleteParams
from ecslite.jobs.password import PasswordParams
from ecslite.jobs.power import PowerParams
from ecslite.jobs.reboot import RebootParams
from ecslite.jobs.registry import DEFINITIONS
from ecslite.jobs.volume_delete import DeleteVolumeParams

# (record as stored by the previous release, the record it is)
STORED: list[tuple[str, object]] = [
    (
        '{"old_volume_id": "vol-old", "new_volume_id": "vol-new", "device": "/dev/vda", '
        '"size_gb": 40, "volume_type": "SSD", "image_id": "img-1", "encrypted": true, '
        '"cmk_id": "cmk-1", "key_name": "kp", "original_vm_state": "stopped", '
        '"original_fault": null}',
        ReinstallParams(
            old_volume_id="vol-old",
            new_volume_id="vol-new",
            device="/dev/vda",
            size_gb=40,
            volume_type="SSD",
            image_id="img-1",
            cmk_id="cmk-1",
            key_name="kp",
            original_vm_state=VmState.STOPPED,
            original_fault=None,
        ),
    ),
    (
        '{"old_volume_id": "a", "new_volume_id": "b", "device": "/dev/vda", "size_gb": 10, '
        '"volume_type": "SAS", "image_id": "img", "encrypted": false, "cmk_id": null, '
        '"key_name": null, "original_vm_state": "error", '
        '"original_fault": {"code": 500, "message": "rollback failed"}}',
        ReinstallParams(
            old_volume_id="a",
            new_volume_id="b",
            device="/dev/vda",
            size_gb=10,
            volume_type="SAS",
            image_id="img",
            cmk_id=None,
            key_name=None,
            original_vm_state=VmState.ERROR,
            original_fault={"code": 500, "message": "rollback failed"},
        ),
    ),
    (
        '{"image_id": "img", "servers": {'
        '"s2": {"system": {"id": "v3", "size_gb": 40, "volume_type": "SSD", "device": "/dev/vda"}, '
        '"data": []}, '
        '"s1": {"system": {"id": "v1", "size_gb": 40, "volume_type": "SSD", "device": "/dev/vda"}, '
        '"data": [{"id": "v2", "size_gb": 10, "volume_type": "SAS", "device": "/dev/vdb"}]}}}',
        CreateParams(
            image_id="img",
            servers=(
                ("s2", ServerBuild(DiskPlan("v3", 40, "SSD"))),
                (
                    "s1",
                    ServerBuild(
                        DiskPlan("v1", 40, "SSD"), (DiskPlan("v2", 10, "SAS", "/dev/vdb"),)
                    ),
                ),
            ),
        ),
    ),
    ("{}", PowerParams(hard=False)),
    ('{"hard": true}', PowerParams(hard=True)),
    ('{"hard": false}', RebootParams(hard=False)),
    ('{"hard": true}', RebootParams(hard=True)),
    ('{"delete_volume": false}', DeleteParams(delete_volume=False)),
    ('{"delete_volume": true}', DeleteParams(delete_volume=True)),
    (
        '{"volume_id": "vol-9", "size": 50, "volume_type": "SAS"}',
        DeleteVolumeParams(volume_id="vol-9", size_gb=50, volume_type="SAS"),
    ),
    (
        '{"password_hash": "$6$salt$hash", "user": "root"}',
        PasswordParams(password_hash="$6$salt$hash"),
    ),
    (
        '{"instance_id": "i-1", "key_name": "kp", "public_keys": ["ssh-ed25519 AAAA k"], '
        '"password_hash": "$6$salt$hash", "user_data": "I2Nsb3VkLWNvbmZpZwo=", "byol": true}',
        BootConfig(
            instance_id="i-1",
            key_name="kp",
            public_keys=("ssh-ed25519 AAAA k",),
            password_hash="$6$salt$hash",
            user_data_b64="I2Nsb3VkLWNvbmZpZwo=",
            byol=True,
        ),
    ),
    (
        '{"instance_id": "i-2", "key_name": null, "public_keys": [], "password_hash": null, '
        '"user_data": null, "byol": false}',
        BootConfig(instance_id="i-2"),
    ),
]

IDS = [f"{type(record).__name__}-{i}" for i, (_, record) in enumerate(STORED)]


@pytest.mark.parametrize(("stored", "record"), STORED, ids=IDS)
def test_a_stored_record_decodes(stored: str, record: object) -> None:
    assert decode(type(record), json.loads(stored)) == record


@pytest.mark.parametrize(("stored", "record"), STORED, ids=IDS)
def test_a_new_record_is_stored_as_before(stored: str, record: object) -> None:
    assert encode(record) == json.loads(stored)


def test_keys_keep_their_order() -> None:
    """Same document text as before; only ReinstallParams' derived "encrypted" moves last."""
    for stored, record in STORED:
        expected: dict[str, Any] = json.loads(stored)
        if isinstance(record, ReinstallParams):
            expected["encrypted"] = expected.pop("encrypted")
        assert json.dumps(encode(record)) == json.dumps(expected)


@pytest.mark.parametrize(("stored", "record"), STORED, ids=IDS)
def test_a_record_survives_a_round_trip(stored: str, record: object) -> None:
    assert decode(type(record), json.loads(json.dumps(encode(record)))) == record


def test_every_job_type_decodes_its_stored_params() -> None:
    by_type = {type(r): json.loads(s) for s, r in STORED}
    params = {
        JobType.REINSTALL: ReinstallParams,
        JobType.CHANGE_OS: ReinstallParams,
        JobType.BATCH_STOP: PowerParams,
        JobType.BATCH_START: PowerParams,
        JobType.BATCH_REBOOT: RebootParams,
        JobType.CREATE: CreateParams,
        JobType.DELETE: DeleteParams,
        JobType.DELETE_VOLUME: DeleteVolumeParams,
        JobType.RESET_PASSWORD: PasswordParams,
    }
    assert set(params) == set(DEFINITIONS)
    for jt, cls in params.items():
        assert isinstance(DEFINITIONS[jt].parse_params(by_type[cls]), cls), jt


def test_the_stored_boot_config_names_user_data_as_before() -> None:
    boot = BootConfig(instance_id="i-3", user_data_b64="eA==")
    assert encode(boot)["user_data"] == "eA=="
    assert decode(BootConfig, encode(boot)) == boot


def test_a_document_missing_what_the_record_requires_is_refused() -> None:
    with pytest.raises(ValueError):
        decode(DeleteVolumeParams, {"size": 1})
