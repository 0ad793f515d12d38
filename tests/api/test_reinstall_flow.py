"""A reinstall replaces the system disk, keeps data disks, and reports each step; failures roll
back to the old disk or leave the server in the retryable reinstall-failed state."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import Api
from tests.support import poll

STEPS = [
    "detachSystemDisk",
    "createSystemDisk",
    "attachSystemDisk",
    "injectCloudInit",
    "startServer",
    "verifyCloudInit",
    "deleteOldSystemDisk",
]


def _disks(server: dict[str, Any]) -> tuple[dict[str, str], list[dict[str, str]]]:
    vols = server["os-extended-volumes:volumes_attached"]
    system = [v for v in vols if v["bootIndex"] == "0"]
    assert len(system) == 1, vols
    return system[0], [v for v in vols if v["bootIndex"] != "0"]


def _volume_rows(api: Api) -> dict[str, dict[str, Any]]:
    engine = create_engine(api.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM volumes")).mappings().all()
    engine.dispose()
    return {r["id"]: dict(r) for r in rows}


def test_reinstall_with_key_pair_replaces_only_the_system_disk(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    before = api.server(sid)
    old_system, data_before = _disks(before)

    resp = api.reinstall(sid, **api.key_login())
    assert resp.status_code == 200
    job = api.wait(resp.json()["job_id"])

    assert job["status"] == "SUCCESS", job
    assert job["job_type"] == "reinstallOS"
    assert job["entities"]["server_id"] == sid
    assert job["entities"]["sub_jobs_total"] == len(STEPS)
    assert [s["job_type"] for s in job["entities"]["sub_jobs"]] == STEPS
    assert all(
        s["status"] == "SUCCESS" and s["begin_time"] and s["end_time"]
        for s in job["entities"]["sub_jobs"]
    )
    assert job["error_code"] is None and job["fail_reason"] is None
    assert job["begin_time"] <= job["end_time"]

    after = api.server(sid)
    new_system, data_after = _disks(after)
    assert after["status"] == "ACTIVE"
    assert after["OS-EXT-STS:vm_state"] == "active" and after["OS-EXT-STS:task_state"] is None
    assert after["key_name"] == api.demo["keypair"]["name"]
    assert new_system["id"] != old_system["id"]
    assert new_system["device"] == old_system["device"]
    assert data_after == data_before


def test_new_system_disk_keeps_size_and_type_and_old_disk_is_released(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    old_system, _ = _disks(api.server(sid))
    rows_before = _volume_rows(api)
    job = api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])
    assert job["status"] == "SUCCESS"
    new_system, _ = _disks(api.server(sid))
    rows = _volume_rows(api)
    assert old_system["id"] not in rows
    new = rows[new_system["id"]]
    old = rows_before[old_system["id"]]
    assert (new["size_gb"], new["volume_type"], new["encrypted"]) == (
        old["size_gb"],
        old["volume_type"],
        0,
    )
    assert new["image_id"] == api.server(sid)["image"]["id"]


def test_encrypted_reinstall_records_the_cmk(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    cmk = api.demo["kms"]["enabled"]
    meta = {"__system__encrypted": "1", "__system__cmkid": cmk}
    job = api.wait(api.reinstall(sid, **api.key_login(), metadata=meta).json()["job_id"])
    assert job["status"] == "SUCCESS"
    new_system, _ = _disks(api.server(sid))
    row = _volume_rows(api)[new_system["id"]]
    assert row["encrypted"] == 1 and row["cmk_id"] == cmk


def test_boot_config_holds_a_password_hash_never_the_password(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    user_data = b"#!/bin/bash\necho user_test > /home/user.txt\n"
    body = {
        "adminpass": "!QAZxsw2",
        "metadata": {"user_data": base64.b64encode(user_data).decode(), "BYOL": "true"},
    }
    job = api.wait(api.reinstall(sid, **body).json()["job_id"])
    assert job["status"] == "SUCCESS"
    engine = create_engine(api.database_url)
    with engine.connect() as conn:
        boot = conn.execute(
            text("SELECT boot_config FROM servers WHERE id = :i"), {"i": sid}
        ).scalar_one()
    engine.dispose()
    boot = boot if isinstance(boot, str) else json.dumps(boot)
    assert "!QAZxsw2" not in boot
    assert '"password_hash": "$6$' in boot
    assert base64.b64encode(user_data).decode() in boot
    assert '"byol": true' in boot
    if api.database_url.startswith("sqlite"):
        assert b"!QAZxsw2" not in api.demo_db.read_bytes()


def test_each_reinstall_gets_a_fresh_instance_id(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    ids = []
    for _ in range(2):
        assert (
            api.wait(api.reinstall(sid, **api.key_login(), mode="withStopServer").json()["job_id"])[
                "status"
            ]
            == "SUCCESS"
        )
        engine = create_engine(api.database_url)
        with engine.connect() as conn:
            boot = conn.execute(
                text("SELECT boot_config FROM servers WHERE id = :i"), {"i": sid}
            ).scalar_one()
        engine.dispose()
        ids.append(
            boot["instance_id"] if isinstance(boot, dict) else json.loads(boot)["instance_id"]
        )
    assert ids[0] != ids[1]


def test_running_server_with_stop_mode_is_stopped_first(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    job = api.wait(api.reinstall(sid, mode="withStopServer", adminpass="!QAZxsw2").json()["job_id"])
    assert job["status"] == "SUCCESS"
    assert [s["job_type"] for s in job["entities"]["sub_jobs"]] == ["stopServer", *STEPS]
    assert api.server(sid)["status"] == "ACTIVE"


def test_stopped_server_with_stop_mode_skips_the_stop(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    job = api.wait(api.reinstall(sid, mode="withStopServer", adminpass="!QAZxsw2").json()["job_id"])
    assert [s["job_type"] for s in job["entities"]["sub_jobs"]] == STEPS


def test_status_follows_the_rebuild_mapping_while_running(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    job_id = api.reinstall(sid, **api.key_login()).json()["job_id"]
    seen: set[tuple[str, str | None]] = set()

    def observe() -> str:
        before = api.job(job_id)["status"]
        server = api.server(sid)
        after = api.job(job_id)["status"]
        if after not in ("SUCCESS", "FAIL"):
            # The job ran during the whole read: the server must show the rebuild states.
            assert server["status"] == "REBUILD", server
            seen.add((server["OS-EXT-STS:vm_state"], server["OS-EXT-STS:task_state"]))
        return after if before == after else before

    poll(observe, until=lambda s: s in ("SUCCESS", "FAIL"), timeout=30)
    tasks = {t for _, t in seen}
    assert tasks <= {"rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"}
    assert len(tasks) >= 2  # the task_state advances as steps complete
    assert api.server(sid)["status"] == "ACTIVE"


def test_failure_before_attach_rolls_back_to_the_old_disk(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    before = api.server(sid)
    rows_before = _volume_rows(api)
    api.inject("attachSystemDisk", sid, error_code="Ecs.0002", message="attach failed (injected)")
    job = api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])

    assert job["status"] == "FAIL"
    assert job["error_code"] == "Ecs.0002" and "attach failed" in job["fail_reason"]
    subs = {s["job_type"]: s for s in job["entities"]["sub_jobs"]}
    assert subs["attachSystemDisk"]["status"] == "FAIL"
    assert subs["attachSystemDisk"]["error_code"] == "Ecs.0002"
    after = api.server(sid)
    assert after["status"] == "SHUTOFF" and after["OS-EXT-STS:task_state"] is None
    assert (
        after["os-extended-volumes:volumes_attached"]
        == before["os-extended-volumes:volumes_attached"]
    )
    assert after["key_name"] == before["key_name"]
    assert _volume_rows(api).keys() == rows_before.keys()  # the new disk is gone, nothing orphaned
    # and the server can be reinstalled again straight away
    assert api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])["status"] == "SUCCESS"


def test_failed_stop_leaves_the_running_server_running(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    api.inject("stopServer", sid)
    job = api.wait(api.reinstall(sid, mode="withStopServer", **api.key_login()).json()["job_id"])
    assert job["status"] == "FAIL"
    server = api.server(sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None


def test_guest_failure_after_start_puts_the_server_back_on_its_old_disk(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    before = api.server(sid)
    rows_before = _volume_rows(api)
    api.inject(
        "verifyCloudInit", sid, error_code="Ecs.0002", message="cloud-init timed out (injected)"
    )
    job = api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])
    assert job["status"] == "FAIL" and "cloud-init timed out" in job["fail_reason"]
    after = api.server(sid)
    assert after["status"] == "SHUTOFF" and after["fault"] is None
    assert (
        after["os-extended-volumes:volumes_attached"]
        == before["os-extended-volumes:volumes_attached"]
    )
    assert _volume_rows(api).keys() == rows_before.keys()  # the new disk is gone, nothing orphaned
    assert api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])["status"] == "SUCCESS"


def test_failed_clean_up_keeps_the_verified_new_system_and_records_the_old_disk(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    old_system, data_before = _disks(api.server(sid))
    api.inject(
        "deleteOldSystemDisk", sid, error_code="Ecs.0002", message="delete failed (injected)"
    )
    job = api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])
    assert job["status"] == "FAIL" and "delete failed" in job["fail_reason"]
    server = api.server(sid)
    assert server["status"] == "ACTIVE" and server["fault"] is None
    new_system, data_after = _disks(server)
    assert new_system["id"] != old_system["id"] and data_after == data_before
    rows = _volume_rows(api)
    assert rows[old_system["id"]]["server_id"] is None  # retained, detached, not orphaned
