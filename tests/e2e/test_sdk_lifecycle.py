"""A server's whole life through the official SDK against a real process (sim driver):
create with a key pair and a data disk, change its OS, reboot, delete with and without its
data disks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import (
    BatchRebootServersRequest,
    BatchRebootServersRequestBody,
    BatchRebootSeversOption,
    ChangeServerOsWithCloudInitOption,
    ChangeServerOsWithCloudInitRequest,
    ChangeServerOsWithCloudInitRequestBody,
    CreatePostPaidServersRequest,
    CreatePostPaidServersRequestBody,
    CreateServersRequest,
    CreateServersRequestBody,
    DeleteServersRequest,
    DeleteServersRequestBody,
    ListServersDetailsRequest,
    PostPaidServer,
    PostPaidServerDataVolume,
    PostPaidServerNic,
    PostPaidServerRootVolume,
    PrePaidServer,
    PrePaidServerNic,
    PrePaidServerRootVolume,
    ServerId,
    ShowServerRequest,
)
from huaweicloudsdkevs.v2 import EvsClient, ListVolumesRequest

from ecslite.auth.httpx_auth import SdkHmacAuth
from examples.sdk_reinstall import client_for, wait_for_job
from tests.support import Service


def volumes(service: Service) -> dict[str, Any]:
    """The project's volumes by id, as the EVS SDK's ListVolumes shows them."""
    demo = service.demo
    creds = BasicCredentials(demo["access_key"], demo["secret_key"], demo["project_id"])
    evs = EvsClient.new_builder().with_credentials(creds).with_endpoints([demo["endpoint"]]).build()
    return {v.id: v for v in evs.list_volumes(ListVolumesRequest()).volumes}


def create_one(client: Any, demo: dict[str, Any], name: str) -> Any:
    server = PostPaidServer(
        name=name,
        image_ref=demo["images"]["cloudinit"],
        flavor_ref="s6.large.2",
        vpcid=demo["vpc_id"],
        nics=[PostPaidServerNic(subnet_id=demo["subnet_id"])],
        root_volume=PostPaidServerRootVolume(volumetype="SSD", size=20),
        data_volumes=[PostPaidServerDataVolume(volumetype="SAS", size=50)],
        key_name=demo["keypair"]["name"],
    )
    body = CreatePostPaidServersRequestBody(server=server)
    return client.create_post_paid_servers(CreatePostPaidServersRequest(body=body))


def test_create_changeos_reboot_delete_keeping_data_disk(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    resp = create_one(client, demo, "web-1")
    assert len(resp.server_ids) == 1
    sid = resp.server_ids[0]
    job = wait_for_job(client, resp.job_id)
    assert job.status == "SUCCESS", job
    assert job.job_type == "createServer"
    assert [s.job_type for s in job.entities.sub_jobs][-1] == "verifyCloudInit"

    s = client.show_server(ShowServerRequest(server_id=sid)).server
    assert (s.status, s.name, s.key_name) == ("ACTIVE", "web-1", demo["keypair"]["name"])
    assert s.image.id == demo["images"]["cloudinit"]
    assert (s.flavor.id, s.flavor.vcpus, s.flavor.ram) == ("s6.large.2", "2", "4096")
    (port,) = s.addresses[demo["vpc_id"]]
    assert port.addr == "192.168.0.2" and port.os_ext_ip_stype == "fixed"
    disks = {v.boot_index: v.id for v in s.os_extended_volumesvolumes_attached}
    assert set(disks) == {"0", "-1"}
    data_disk = disks["-1"]
    assert volumes(service)[data_disk].status == "in-use"
    found = client.list_servers_details(ListServersDetailsRequest(ip="192.168.0.2"))
    assert [x.id for x in found.servers] == [sid]

    option = ChangeServerOsWithCloudInitOption(
        imageid=demo["images"]["alt"],
        keyname=demo["keypair"]["name"],
        userid=demo["user_id"],
        mode="withStopServer",
    )
    change = client.change_server_os_with_cloud_init(
        ChangeServerOsWithCloudInitRequest(
            server_id=sid, body=ChangeServerOsWithCloudInitRequestBody(os_change=option)
        )
    )
    job = wait_for_job(client, change.job_id)
    assert (job.status, job.job_type) == ("SUCCESS", "changeOS"), job
    s = client.show_server(ShowServerRequest(server_id=sid)).server
    assert s.status == "ACTIVE" and s.image.id == demo["images"]["alt"]
    new_disks = {v.boot_index: v.id for v in s.os_extended_volumesvolumes_attached}
    assert new_disks["-1"] == data_disk and new_disks["0"] != disks["0"]

    reboot = client.batch_reboot_servers(
        BatchRebootServersRequest(
            body=BatchRebootServersRequestBody(
                reboot=BatchRebootSeversOption(servers=[ServerId(id=sid)], type="SOFT")
            )
        )
    )
    job = wait_for_job(client, reboot.job_id)
    assert (job.status, job.job_type) == ("SUCCESS", "batchRebootServers"), job
    assert client.show_server(ShowServerRequest(server_id=sid)).server.status == "ACTIVE"

    delete = client.delete_servers(
        DeleteServersRequest(
            body=DeleteServersRequestBody(servers=[ServerId(id=sid)], delete_volume=False)
        )
    )
    assert wait_for_job(client, delete.job_id).status == "SUCCESS"
    with pytest.raises(ClientRequestException) as exc:
        client.show_server(ShowServerRequest(server_id=sid))
    assert (exc.value.status_code, exc.value.error_code) == (404, "Ecs.0114")
    left = volumes(service)
    assert new_disks["0"] not in left
    assert left[data_disk].status == "available" and left[data_disk].attachments == []
    # Its address is free again: the next server gets it.
    again = create_one(client, demo, "web-2")
    assert wait_for_job(client, again.job_id).status == "SUCCESS"
    s = client.show_server(ShowServerRequest(server_id=again.server_ids[0])).server
    assert s.addresses[demo["vpc_id"]][0].addr == "192.168.0.2"


def test_create_two_with_password_then_delete_with_volumes(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    server = PrePaidServer(
        name="batch",
        image_ref=demo["images"]["alt"],
        flavor_ref="s6.small.1",
        vpcid=demo["vpc_id"],
        nics=[PrePaidServerNic(subnet_id=demo["subnet_id"])],
        root_volume=PrePaidServerRootVolume(volumetype="SSD"),
        count=2,
        admin_pass="Create-Passw0rd",
    )
    resp = client.create_servers(CreateServersRequest(body=CreateServersRequestBody(server=server)))
    assert len(resp.server_ids) == 2
    assert wait_for_job(client, resp.job_id).status == "SUCCESS"
    shown = [client.show_server(ShowServerRequest(server_id=i)).server for i in resp.server_ids]
    assert sorted(s.name for s in shown) == ["batch-0001", "batch-0002"]
    ips = {s.addresses[demo["vpc_id"]][0].addr for s in shown}
    assert len(ips) == 2
    owned = {v.id for s in shown for v in s.os_extended_volumesvolumes_attached}
    assert len(owned) == 2 and owned <= set(volumes(service))

    body = DeleteServersRequestBody(
        servers=[ServerId(id=i) for i in resp.server_ids], delete_volume=True
    )
    job = wait_for_job(client, client.delete_servers(DeleteServersRequest(body=body)).job_id)
    assert job.status == "SUCCESS" and len(job.entities.sub_jobs) == 2
    assert not owned & set(volumes(service))
    listed = client.list_servers_details(ListServersDetailsRequest(name="batch"))
    assert listed.count == 0


def test_concurrent_creates_get_distinct_addresses(service: Service) -> None:
    demo = service.demo
    body = {
        "server": {
            "name": "race",
            "imageRef": demo["images"]["cloudinit"],
            "flavorRef": "s6.small.1",
            "vpcid": demo["vpc_id"],
            "nics": [{"subnet_id": demo["subnet_id"]}],
            "adminPass": "Race-Passw0rd",
        }
    }

    def create(i: int) -> Any:
        # Eight different requests (own client tokens), not one signed request repeated.
        with service.http() as http:
            return http.post(
                f"/v1/{demo['project_id']}/cloudservers",
                json=body,
                headers={"X-Client-Token": f"race-{i}"},
            )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(create, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    client = client_for(demo)
    for r in responses:
        assert wait_for_job(client, r.json()["job_id"]).status == "SUCCESS"
    listed = client.list_servers_details(ListServersDetailsRequest(name="race", limit=100))
    addrs = [s.addresses[demo["vpc_id"]][0].addr for s in listed.servers]
    assert len(addrs) == len(set(addrs)) == 8


QUOTA_SEED = """
domains: [{id: dq, name: quota-co}]
users: [{id: uq, name: quota-user, domain_id: dq, password: "Quota-Passw0rd"}]
projects: [{id: pq, name: eu-de_quota, domain_id: dq, region: eu-de,
            quotas: {instances: 3, cores: 100, ram_mb: 409600, volumes: 100}}]
access_keys: [{access_key: AKQUOTA, secret_key: SKQUOTA, user_id: uq}]
images:
  - {id: img-q, name: quota-image, status: active, cloud_init: true, os_type: Linux,
     min_disk_gb: 1}
vpcs: [{id: vpc-q, project_id: pq, name: q, cidr: 10.9.0.0/16}]
subnets:
  - {id: sn-q1, project_id: pq, vpc_id: vpc-q, name: q1, cidr: 10.9.1.0/24}
  - {id: sn-q2, project_id: pq, vpc_id: vpc-q, name: q2, cidr: 10.9.2.0/24}
"""


def test_concurrent_creates_in_different_subnets_never_exceed_the_quota(
    tmp_path: Path, database_url: str
) -> None:
    # Different subnets: their row locks do not serialise these creates; only the quota does.
    seed = tmp_path / "quota.yaml"
    seed.write_text(QUOTA_SEED)
    svc = Service(tmp_path / "data", "--seed", str(seed), database_url=database_url).start()
    try:
        auth = SdkHmacAuth("AKQUOTA", "SKQUOTA", "pq")

        def create(i: int) -> httpx.Response:
            body = {
                "server": {
                    "name": f"q-{i}",
                    "imageRef": "img-q",
                    "flavorRef": "s6.small.1",
                    "vpcid": "vpc-q",
                    "nics": [{"subnet_id": f"sn-q{1 + i % 2}"}],
                    "adminPass": "Quota-Passw0rd",
                }
            }
            with httpx.Client(base_url=svc.endpoint, auth=auth, timeout=30) as http:
                return http.post("/v1/pq/cloudservers", json=body)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(create, range(8)))
        accepted = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        assert len(accepted) == 3, [r.text for r in responses]
        assert {r.json()["error"]["code"] for r in refused} == {"Ecs.0001"}
        ak = {"access_key": "AKQUOTA", "secret_key": "SKQUOTA", "project_id": "pq"}
        client = client_for({**ak, "endpoint": svc.endpoint})
        for r in accepted:
            assert wait_for_job(client, r.json()["job_id"]).status == "SUCCESS"
        assert client.list_servers_details(ListServersDetailsRequest(limit=100)).count == 3
    finally:
        svc.stop()
