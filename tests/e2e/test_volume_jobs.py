"""The deleteVolume job against a real process: a driver failure leaves the volume
``error_deleting`` and a new delete finishes it; a crash before or after the driver call is
resumed at restart (job SUCCESS, volume gone); and a disk a running job still holds is refused
while it runs: the old system disk a reinstall has detached (it may re-attach it), a data disk
a create has made but not yet attached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_crash_matrix import FAST_LEASES, _reinstall, _wait
from tests.e2e.test_crash_matrix_lifecycle import _crash_and_recover
from tests.support import Service, poll


def _detail(svc: Service, **params: Any) -> dict[str, Any]:
    with svc.http() as http:
        resp = http.get(f"/v2/{svc.demo['project_id']}/cloudvolumes/detail", params=params)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _delete(http: httpx.Client, demo: dict[str, Any], volume_id: str) -> httpx.Response:
    return http.delete(f"/v2/{demo['project_id']}/cloudvolumes/{volume_id}")


def _kept_data_disk(svc: Service) -> str:
    """Delete the demo's stopped server keeping its data disk; return the disk's id."""
    demo = svc.demo
    sid = demo["servers"]["stopped"]
    with svc.http() as http:
        body = {"servers": [{"id": sid}], "delete_volume": False}
        resp = http.post(f"/v1/{demo['project_id']}/cloudservers/delete", json=body)
    assert resp.status_code == 200, resp.text
    assert _wait(svc, resp.json()["job_id"])["status"] == "SUCCESS"
    kept = demo["volumes"]["stopped_data"]
    (vol,) = _detail(svc, id=kept)["volumes"]
    assert (vol["status"], vol["attachments"]) == ("available", [])
    return str(kept)


def test_a_failed_delete_leaves_error_deleting_and_can_be_retried(tmp_path: Path) -> None:
    svc = Service(tmp_path / "data", "--enable-admin").start()
    try:
        kept = _kept_data_disk(svc)
        with svc.http() as http:
            fault = {
                "step": "deleteVolume",
                "times": 1,
                "error_code": "EVS.2002",
                "message": "busy",
            }
            assert http.post("/_ecslite/admin/faults", json=fault).status_code == 201
            resp = _delete(http, svc.demo, kept)
        assert resp.status_code == 200, resp.text
        job = _wait(svc, resp.json()["job_id"])
        assert (job["status"], job["error_code"], job["fail_reason"]) == (
            "FAIL",
            "EVS.2002",
            "busy",
        )
        assert job["entities"]["volume_id"] == kept
        (vol,) = _detail(svc, id=kept)["volumes"]
        assert vol["status"] == "error_deleting"
        assert [v["id"] for v in _detail(svc, status="error_deleting")["volumes"]] == [kept]
        # The retry is a new request (its own client token): the first delete was accepted, so
        # sending that same signed request again within its one-second date is a replay (401).
        with svc.http() as http:
            again = http.delete(
                f"/v2/{svc.demo['project_id']}/cloudvolumes/{kept}",
                headers={"X-Client-Token": "retry-1"},
            )
        assert again.status_code == 200, again.text
        assert _wait(svc, again.json()["job_id"])["status"] == "SUCCESS"
        assert _detail(svc, id=kept) == {"count": 0, "volumes": []}
    finally:
        svc.stop()


@pytest.mark.parametrize("point", ["before_act", "after_act"])
def test_a_crash_during_the_delete_is_resumed(
    tmp_path: Path, database_url: str, point: str
) -> None:
    data = tmp_path / "data"
    first = Service(data, database_url=database_url, env=FAST_LEASES).start()
    try:
        kept = _kept_data_disk(first)
    finally:
        first.stop()
    restarted, job_id = _crash_and_recover(
        data,
        database_url,
        f"{point}:deleteVolume",
        lambda http, demo: _delete(http, demo, kept),
        "deleteVolume",
    )
    try:
        job = _wait(restarted, job_id)
        assert job["status"] == "SUCCESS", job
        assert [s["status"] for s in job["entities"]["sub_jobs"]] == ["SUCCESS"]
        assert _detail(restarted, id=kept) == {"count": 0, "volumes": []}
    finally:
        restarted.stop()


def test_a_disk_detached_by_a_running_reinstall_cannot_be_deleted(tmp_path: Path) -> None:
    svc = Service(tmp_path / "data", "--sim-delay", "0.3").start()
    try:
        demo = svc.demo
        sid = demo["servers"]["running"]
        (old,) = [v for v in _detail(svc, server_id=sid)["volumes"] if v["bootable"] == "true"]
        job_id = _reinstall(svc, sid)
        # The reinstall detaches the old system disk (it shows available) before it is done.
        detached = poll(
            lambda: _detail(svc, id=old["id"])["volumes"],
            until=lambda vs: bool(vs) and vs[0]["status"] == "available",
            timeout=30,
        )
        assert detached[0]["attachments"] == []
        with svc.http() as http:
            resp = _delete(http, demo, old["id"])
        assert (resp.status_code, resp.json().get("error", {}).get("code")) == (400, "EVS.1046"), (
            resp.text
        )
        assert _wait(svc, job_id)["status"] == "SUCCESS"
        # The reinstall deleted it itself, as it does with every replaced system disk.
        assert _detail(svc, id=old["id"])["count"] == 0
    finally:
        svc.stop()


def test_a_disk_a_running_create_is_about_to_attach_cannot_be_deleted(tmp_path: Path) -> None:
    svc = Service(tmp_path / "data", "--sim-delay", "0.4").start()
    try:
        demo = svc.demo
        before = {v["id"] for v in _detail(svc)["volumes"]}
        body = {
            "server": {
                "name": "attach-race",
                "imageRef": demo["images"]["cloudinit"],
                "flavorRef": "s6.small.1",
                "vpcid": demo["vpc_id"],
                "nics": [{"subnet_id": demo["subnet_id"]}],
                "data_volumes": [{"volumetype": "SAS", "size": 10}],
                "adminPass": "Attach-Race-1",
            }
        }
        with svc.http() as http:
            resp = http.post(f"/v1/{demo['project_id']}/cloudservers", json=body)
        assert resp.status_code == 200, resp.text
        job_id = resp.json()["job_id"]
        # The create records its data disk (available, detached) before it attaches it.
        made = poll(
            lambda: [v for v in _detail(svc)["volumes"] if v["id"] not in before],
            until=lambda vs: any(v["bootable"] == "false" for v in vs),
            timeout=30,
        )
        (data,) = [v for v in made if v["bootable"] == "false"]
        assert (data["status"], data["attachments"]) == ("available", [])
        with svc.http() as http:
            refused = _delete(http, demo, data["id"])
        assert (refused.status_code, refused.json().get("error", {}).get("code")) == (
            400,
            "EVS.1046",
        ), refused.text
        assert _wait(svc, job_id)["status"] == "SUCCESS"
        (attached,) = _detail(svc, id=data["id"])["volumes"]
        assert attached["status"] == "in-use"
        assert attached["attachments"][0]["server_id"] == resp.json()["serverIds"][0]
    finally:
        svc.stop()
