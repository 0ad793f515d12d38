"""Volumes through the official EVS SDK (huaweicloudsdkevs) against a real process (sim driver):
list a server's disks, keep its data disk when the server is deleted, delete that disk, and the
refusals: an attached disk, a disk another delete already claimed, another project's disks."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import DeleteServersRequest, DeleteServersRequestBody, ServerId
from huaweicloudsdkevs.v2 import (
    DeleteVolumeRequest,
    EvsClient,
    ListVolumesRequest,
    ShowJobRequest,
    ShowVolumeRequest,
)

from examples.sdk_reinstall import client_for, wait_for_job
from tests.e2e.test_sdk_lifecycle import create_one
from tests.support import Service


def evs_client(endpoint: str, ak: str, sk: str, project_id: str) -> EvsClient:
    creds = BasicCredentials(ak, sk, project_id)
    return EvsClient.new_builder().with_credentials(creds).with_endpoints([endpoint]).build()


def evs_for(demo: dict[str, Any]) -> EvsClient:
    return evs_client(demo["endpoint"], demo["access_key"], demo["secret_key"], demo["project_id"])


def wait_for_evs_job(evs: EvsClient, job_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = evs.show_job(ShowJobRequest(job_id=job_id))
        if job.status in ("SUCCESS", "FAIL"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.1)


def listed(evs: EvsClient, **filters: Any) -> dict[str, Any]:
    """The project's volumes by id, as ListVolumes shows them."""
    resp = evs.list_volumes(ListVolumesRequest(**filters))
    assert resp.count == len(resp.volumes)  # a single page here
    return {v.id: v for v in resp.volumes}


def refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientRequestException) as exc:
        call()
    return exc.value.status_code, exc.value.error_code


def test_list_keep_and_delete_a_data_disk(service: Service) -> None:
    demo = service.demo
    ecs, evs = client_for(demo), evs_for(demo)
    before = listed(evs)
    resp = create_one(ecs, demo, "vol-1")
    assert wait_for_job(ecs, resp.job_id).status == "SUCCESS"
    sid = resp.server_ids[0]

    vols = listed(evs)
    new = {i: v for i, v in vols.items() if i not in before}
    assert len(new) == 2 and len(vols) == len(before) + 2
    system = next(v for v in new.values() if v.bootable == "true")
    data = next(v for v in new.values() if v.bootable == "false")
    assert (system.status, system.size, system.volume_type) == ("in-use", 20, "SSD")
    assert system.volume_image_metadata["image_id"] == demo["images"]["cloudinit"]
    assert (data.status, data.size, data.volume_type) == ("in-use", 50, "SAS")
    assert data.volume_image_metadata == {}
    for v, device in ((system, "/dev/vda"), (data, "/dev/vdb")):
        (att,) = v.attachments
        assert (att.server_id, att.volume_id, att.device) == (sid, v.id, device)
        assert att.attachment_id and att.attached_at
        assert v.multiattach is False and v.availability_zone == "eu-de-01"
        assert v.os_vol_tenant_attrtenant_id == demo["project_id"]
    assert set(listed(evs, server_id=sid)) == {system.id, data.id}
    shown = evs.show_volume(ShowVolumeRequest(volume_id=data.id)).volume
    assert (shown.id, shown.status, shown.attachments[0].server_id) == (data.id, "in-use", sid)

    # An attached disk cannot be deleted, and the refusal changes nothing.
    assert refusal(lambda: evs.delete_volume(DeleteVolumeRequest(volume_id=data.id))) == (
        400,
        "EVS.1046",
    )
    assert evs.show_volume(ShowVolumeRequest(volume_id=data.id)).volume.status == "in-use"

    body = DeleteServersRequestBody(servers=[ServerId(id=sid)], delete_volume=False)
    job = ecs.delete_servers(DeleteServersRequest(body=body))
    assert wait_for_job(ecs, job.job_id).status == "SUCCESS"
    vols = listed(evs)
    assert system.id not in vols
    kept = vols[data.id]
    assert (kept.status, kept.attachments) == ("available", [])
    assert data.id in listed(evs, status="available")
    assert data.id not in listed(evs, status="in-use")

    deleted = evs.delete_volume(DeleteVolumeRequest(volume_id=data.id))
    job = wait_for_evs_job(evs, deleted.job_id)
    assert (job.status, job.job_type, job.entities.volume_id) == (
        "SUCCESS",
        "deleteVolume",
        data.id,
    )
    # The same job through the ECS job API.
    assert wait_for_job(ecs, deleted.job_id).status == "SUCCESS"
    assert refusal(lambda: evs.show_volume(ShowVolumeRequest(volume_id=data.id))) == (
        404,
        "EVS.5404",
    )
    assert data.id not in listed(evs)
    assert set(listed(evs)) == set(before)
    # Deleting it again: it does not exist. (A new request: the same signed one repeated
    # within its one-second date would be refused as a replay of an accepted delete.)
    with service.http() as http:
        again = http.delete(
            f"/v2/{demo['project_id']}/cloudvolumes/{data.id}",
            headers={"X-Client-Token": "delete-again"},
        )
    assert (again.status_code, again.json()["error"]["code"]) == (404, "EVS.5404")


def test_another_project_sees_none_of_them(service: Service) -> None:
    demo = service.demo
    ecs, evs = client_for(demo), evs_for(demo)
    resp = create_one(ecs, demo, "mine")
    assert wait_for_job(ecs, resp.job_id).status == "SUCCESS"
    body = DeleteServersRequestBody(servers=[ServerId(id=resp.server_ids[0])], delete_volume=False)
    assert (
        wait_for_job(ecs, ecs.delete_servers(DeleteServersRequest(body=body)).job_id).status
        == "SUCCESS"
    )
    mine = listed(evs)
    kept = next(i for i, v in mine.items() if v.status == "available")

    o = demo["other_project"]
    other = evs_client(demo["endpoint"], o["access_key"], o["secret_key"], o["project_id"])
    theirs = listed(other)
    assert theirs and not set(theirs) & set(mine)
    assert all(v.os_vol_tenant_attrtenant_id == o["project_id"] for v in theirs.values())
    for call in (
        lambda: other.show_volume(ShowVolumeRequest(volume_id=kept)),
        lambda: other.delete_volume(DeleteVolumeRequest(volume_id=kept)),
    ):
        assert refusal(call) == (404, "EVS.5404")
    assert not listed(other, id=kept)
    # Their credentials on our project's URL: the project check refuses before any lookup.
    wrong = evs_client(demo["endpoint"], o["access_key"], o["secret_key"], demo["project_id"])
    status, code = refusal(lambda: wrong.list_volumes(ListVolumesRequest()))
    assert status in (400, 401, 403) and code
    assert evs.show_volume(ShowVolumeRequest(volume_id=kept)).volume.status == "available"


def test_concurrent_deletes_of_one_volume_make_one_job(service: Service) -> None:
    demo = service.demo
    ecs, evs = client_for(demo), evs_for(demo)
    resp = create_one(ecs, demo, "race")
    assert wait_for_job(ecs, resp.job_id).status == "SUCCESS"
    body = DeleteServersRequestBody(servers=[ServerId(id=resp.server_ids[0])], delete_volume=False)
    assert (
        wait_for_job(ecs, ecs.delete_servers(DeleteServersRequest(body=body)).job_id).status
        == "SUCCESS"
    )
    kept = next(i for i, v in listed(evs, status="available").items())

    def delete(i: int) -> Any:
        # Six different requests (own client tokens): the claim, not replay refusal, picks one.
        with service.http() as http:
            return http.delete(
                f"/v2/{demo['project_id']}/cloudvolumes/{kept}",
                headers={"X-Client-Token": f"race-{i}"},
            )

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(delete, range(6)))
    accepted = [r for r in responses if r.status_code == 200]
    assert len(accepted) == 1, [r.text for r in responses]
    for r in responses:
        if r.status_code != 200:
            # Refused while claimed (EVS.1046) or, once the job ended, absent (EVS.5404).
            assert r.json()["error"]["code"] in ("EVS.1046", "EVS.5404"), r.text
    job = wait_for_evs_job(evs, accepted[0].json()["job_id"])
    assert job.status == "SUCCESS"
    assert kept not in listed(evs)


def test_list_paging_sorting_and_refused_filters(service: Service) -> None:
    demo = service.demo
    evs = evs_for(demo)
    every = evs.list_volumes(ListVolumesRequest(sort_key="id", sort_dir="asc"))
    ids = [v.id for v in every.volumes]
    assert ids == sorted(ids) and every.count == len(ids) >= 3
    first = evs.list_volumes(ListVolumesRequest(sort_key="id", sort_dir="asc", limit=2))
    assert [v.id for v in first.volumes] == ids[:2] and first.count == len(ids)
    assert first.volumes_links and first.volumes_links[0].rel == "next"
    rest = evs.list_volumes(
        ListVolumesRequest(sort_key="id", sort_dir="asc", marker=ids[1], limit=1000)
    )
    assert [v.id for v in rest.volumes] == ids[2:] and not rest.volumes_links
    skipped = evs.list_volumes(ListVolumesRequest(sort_key="id", sort_dir="asc", offset=1))
    assert [v.id for v in skipped.volumes] == ids[1:]
    assert listed(evs, name="anything") == {}
    assert listed(evs, availability_zone="az9") == {}
    assert set(listed(evs, ids="['" + "','".join(ids[:2]) + "']")) == set(ids[:2])
    for bad, code in (
        ({"limit": 0}, "EVS.1023"),
        ({"limit": 1001}, "EVS.2142"),
        ({"sort_key": "name"}, "EVS.1039"),
        ({"sort_dir": "up"}, "EVS.1040"),
        ({"marker": "no-such-volume"}, "EVS.1024"),
        ({"metadata": '{"a": "b"}'}, "EVS.5400"),
    ):
        assert refusal(lambda b=bad: evs.list_volumes(ListVolumesRequest(**b))) == (400, code)
    with service.http() as http:
        r = http.get(f"/v2/{demo['project_id']}/cloudvolumes/detail", params={"limit": "x"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "EVS.5400")


def test_an_encrypted_system_disk_shows_its_encryption(service: Service) -> None:
    demo = service.demo
    evs = evs_for(demo)
    sid = demo["servers"]["stopped"]
    cmk = demo["kms"]["enabled"]
    body = {
        "os-reinstall": {
            "adminpass": "Encrypt-Passw0rd",
            "mode": "withStopServer",
            "metadata": {"__system__encrypted": "1", "__system__cmkid": cmk},
        }
    }
    with service.http() as http:
        resp = http.post(f"/v2/{demo['project_id']}/cloudservers/{sid}/reinstallos", json=body)
    assert resp.status_code == 200, resp.text
    assert wait_for_job(client_for(demo), resp.json()["job_id"]).status == "SUCCESS"
    disks = listed(evs, server_id=sid)
    (system,) = [v for v in disks.values() if v.bootable == "true"]
    assert system.metadata == {"__system__encrypted": "1", "__system__cmkid": cmk}
    assert system.encrypted is True
    (data,) = [v for v in disks.values() if v.bootable == "false"]
    assert data.metadata == {} and data.encrypted is False


def test_filters_nothing_here_can_match(service: Service) -> None:
    evs = evs_for(service.demo)
    every = set(listed(evs))
    assert every
    assert set(listed(evs, multiattach=False)) == every
    assert set(listed(evs, service_type="EVS", availability_zone="eu-de-01")) == every
    assert set(listed(evs, enterprise_project_id="all_granted_eps")) == every
    for nothing in (
        {"multiattach": True},
        {"service_type": "DSS"},
        {"dedicated_storage_id": "pool-1"},
        {"enterprise_project_id": "ep-1"},
    ):
        assert listed(evs, **nothing) == {}, nothing
    for refused in ({"not_metadata": "{}"}, {"volume_type_id": "t-1"}):
        assert refusal(lambda r=refused: evs.list_volumes(ListVolumesRequest(**r))) == (
            400,
            "EVS.5400",
        )
