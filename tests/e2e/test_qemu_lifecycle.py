"""A server's whole life with the qemu driver, through the official SDK against a real process:
create with a key pair and a data disk (a real guest boots, cloud-init finished), reboot, change
its OS to a second image, delete keeping the data disk, then delete that disk through EVS.
Nothing of the guest is left on the host but the kept disk, until it is deleted too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
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
    DeleteServersRequest,
    DeleteServersRequestBody,
    PostPaidServer,
    PostPaidServerDataVolume,
    PostPaidServerNic,
    PostPaidServerRootVolume,
    ServerId,
    ShowServerRequest,
)
from huaweicloudsdkevs.v2 import DeleteVolumeRequest

from examples.sdk_reinstall import client_for, wait_for_job
from tests.e2e.test_qemu_guest import (
    FINISHED,
    JOB_TIMEOUT,
    _b64,
    _cli,
    _console,
    _running,
    _ssh,
    _tenant,
    pytestmark,  # noqa: F401 - the same markers and skip condition
)
from tests.e2e.test_sdk_volumes import evs_client, listed, wait_for_evs_job
from tests.support import Service

# Prints what the test checks from inside the guest after the first boot.
FIRST_BOOT = """#!/bin/sh
echo "CREATED-{marker} host=$(hostname) vdb=$(cat /sys/block/vdb/size 2>/dev/null)"
"""


_VPC_CIDR = "192.168.0.0/16"


def _wait_for_console(client: Any, sid: str, done: Callable[[str], bool]) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT
    while not done(text := _console(client, sid)):
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(2)


def _seed(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "domains": [{"id": t["domain_id"], "name": "qemu-life"}],
        "users": [{"id": t["user_id"], "name": "qemu-user", "domain_id": t["domain_id"]}],
        "projects": [{"id": t["project_id"], "name": "eu-de_life", "domain_id": t["domain_id"]}],
        "access_keys": [
            {"access_key": t["access_key"], "secret_key": t["secret_key"], "user_id": t["user_id"]}
        ],
        "images": [
            {"id": t["image_id"], "name": "Debian 12 (cloud-init)"},
            {"id": t["alt_image_id"], "name": "Debian 12 again (cloud-init)"},
        ],
        "keypairs": [{"user_id": t["user_id"], "name": "e2e-key", "public_key": t["public_key"]}],
        "vpcs": [
            {"id": t["vpc_id"], "project_id": t["project_id"], "name": "life", "cidr": _VPC_CIDR}
        ],
        "subnets": [
            {
                "id": t["subnet_id"],
                "project_id": t["project_id"],
                "vpc_id": t["vpc_id"],
                "name": "life",
                "cidr": "192.168.7.0/24",
            }
        ],
    }


@pytest.fixture
def life_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[tuple[Service, dict[str, Any]]]:
    data_dir = tmp_path / "data"
    t = _tenant(tmp_path)
    t |= {"alt_image_id": str(uuid.uuid4()), "vpc_id": str(uuid.uuid4()),
          "subnet_id": str(uuid.uuid4())}  # fmt: skip
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump(_seed(t)))
    for image_id in (t["image_id"], t["alt_image_id"]):  # the cache's files, hard-linked twice
        _cli("image", "build", "debian-12", "--id", image_id, "--data-dir", str(data_dir))
    monkeypatch.setenv("ECSLITE_CLOUD_INIT_TIMEOUT", "360")
    monkeypatch.setenv("ECSLITE_QEMU_POWERDOWN_TIMEOUT", "30")
    with _running(data_dir, seed, database_url) as svc:
        t["endpoint"] = svc.endpoint
        yield svc, t


def test_create_reboot_change_os_and_delete_a_real_guest(
    life_service: tuple[Service, dict[str, Any]],
) -> None:
    svc, t = life_service
    client = client_for(t)
    marker = uuid.uuid4().hex[:12]

    # 1. Create: key pair, a 10 GB data disk, user_data. The job ends after cloud-init finished.
    resp = client.create_post_paid_servers(
        CreatePostPaidServersRequest(
            body=CreatePostPaidServersRequestBody(
                server=PostPaidServer(
                    name="life-1",
                    image_ref=t["image_id"],
                    flavor_ref="s6.medium.2",
                    vpcid=t["vpc_id"],
                    nics=[PostPaidServerNic(subnet_id=t["subnet_id"])],
                    key_name="e2e-key",
                    user_data=_b64(FIRST_BOOT.format(marker=marker)),
                    root_volume=PostPaidServerRootVolume(volumetype="SSD", size=10),
                    data_volumes=[PostPaidServerDataVolume(volumetype="SAS", size=10)],
                )
            )
        )
    )
    (sid,) = resp.server_ids
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", job.fail_reason
    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.status == "ACTIVE"
    assert server.key_name == "e2e-key"
    assert server.image.id == t["image_id"]
    assert server.flavor.id == "s6.medium.2"
    fixed = server.addresses[t["vpc_id"]][0].addr
    assert fixed.startswith("192.168.7.")
    disks = {v.boot_index: v.id for v in server.os_extended_volumesvolumes_attached}
    assert set(disks) == {"0", "-1"}, disks
    data_id = disks["-1"]
    console = _console(client, sid)
    assert FINISHED.search(console)
    # The guest ran the user_data, is named after the server, and sees a 10 GiB second disk.
    assert f"CREATED-{marker} host=life-1 vdb={10 * 1024**3 // 512}" in console
    forward = server.metadata["ssh_forward"]
    out = _ssh(forward, "cat /etc/hostname; lsblk -dno NAME,SIZE /dev/vdb", key=t["key_file"])
    assert "life-1" in out.stdout and "10G" in out.stdout, out.stdout
    # The guest has its flavor's size (s6.medium.2: 1 vCPU, 2 GiB; within the host's caps).
    out = _ssh(forward, "nproc; awk '/MemTotal/ {print $2}' /proc/meminfo", key=t["key_file"])
    cpus, mem_kb = (int(x) for x in out.stdout.split())
    assert cpus == 1 and 1_800_000 < mem_kb <= 2 * 1024 * 1024, out.stdout

    # 2. Reboot (SOFT: ACPI power button, then a boot with the same cloud-init data).
    _ssh(forward, "touch /run/before-reboot", key=t["key_file"])  # /run is a tmpfs
    resp = client.batch_reboot_servers(
        BatchRebootServersRequest(
            body=BatchRebootServersRequestBody(
                reboot=BatchRebootSeversOption(type="SOFT", servers=[ServerId(id=sid)])
            )
        )
    )
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", job.fail_reason
    assert client.show_server(ShowServerRequest(server_id=sid)).server.status == "ACTIVE"
    # The reboot job ends once the guest is started again (as on the cloud, ACTIVE does not
    # mean logged-in-able yet): the second boot's cloud-init end on the console says it is up.
    _wait_for_console(client, sid, lambda text: len(FINISHED.findall(text)) >= 2)
    out = _ssh(forward, "test -e /run/before-reboot && echo SAME-BOOT || echo NEW-BOOT",
               key=t["key_file"])  # fmt: skip
    assert "NEW-BOOT" in out.stdout

    # 3. Change the OS to the second image, with a password instead of the key pair.
    resp = client.change_server_os_with_cloud_init(
        ChangeServerOsWithCloudInitRequest(
            server_id=sid,
            body=ChangeServerOsWithCloudInitRequestBody(
                os_change=ChangeServerOsWithCloudInitOption(
                    imageid=t["alt_image_id"], adminpass="Life-Passw0rd", mode="withStopServer"
                )
            ),
        )
    )
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", job.fail_reason
    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.status == "ACTIVE" and server.image.id == t["alt_image_id"]
    new_disks = {v.boot_index: v.id for v in server.os_extended_volumesvolumes_attached}
    assert new_disks["-1"] == data_id and new_disks["0"] != disks["0"]
    assert server.metadata["ssh_forward"] == forward
    out = _ssh(forward, "echo PASSWORD-LOGIN-OK", password="Life-Passw0rd")
    assert "PASSWORD-LOGIN-OK" in out.stdout

    # 4. Delete, keeping the data disk: the guest stops, the server's host files go.
    data_dir = svc.data_dir
    assert (data_dir / "servers" / sid).is_dir()
    resp = client.delete_servers(
        DeleteServersRequest(
            body=DeleteServersRequestBody(servers=[ServerId(id=sid)], delete_volume=False)
        )
    )
    job = wait_for_job(client, resp.job_id, timeout=JOB_TIMEOUT)
    assert job.status == "SUCCESS", job.fail_reason
    with pytest.raises(ClientRequestException) as err:
        client.show_server(ShowServerRequest(server_id=sid))
    assert err.value.status_code == 404 and err.value.error_code == "Ecs.0114"
    assert not (data_dir / "servers" / sid).exists()
    assert not list(data_dir.glob("servers/*/qemu.pid"))
    kept = sorted(p.stem for p in (data_dir / "volumes").glob("*.qcow2"))
    assert kept == [data_id], kept  # both system disks gone, the data disk kept
    out = _ssh(forward, "true", key=t["key_file"], expect_ok=False)
    assert out.returncode != 0  # nothing answers on the forward any more

    # 5. The kept disk is listed, detached; deleting it through EVS removes its file.
    evs = evs_client(t["endpoint"], t["access_key"], t["secret_key"], t["project_id"])
    vols = listed(evs)
    assert list(vols) == [data_id]
    assert (vols[data_id].status, vols[data_id].attachments) == ("available", [])
    deleted = evs.delete_volume(DeleteVolumeRequest(volume_id=data_id))
    assert wait_for_evs_job(evs, deleted.job_id).status == "SUCCESS"
    assert listed(evs) == {}
    assert not list((data_dir / "volumes").glob("*.qcow2"))
