"""The official huaweicloudsdkecs client drives a real ecslite process through full reinstalls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import (
    BatchStopServersOption,
    BatchStopServersRequest,
    BatchStopServersRequestBody,
    ListServersDetailsRequest,
    ReinstallServerWithCloudInitOption,
    ReinstallServerWithCloudInitRequest,
    ReinstallServerWithCloudInitRequestBody,
    ReinstallSeverMetadata,
    ServerId,
    ShowJobRequest,
    ShowServerRequest,
)

from examples.sdk_reinstall import client_for, reinstall, wait_for_job
from tests.support import Service

ROOT = Path(__file__).resolve().parents[2]


def test_sdk_reinstalls_stopped_server_with_key_pair(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    sid = demo["servers"]["stopped"]
    before = client.show_server(ShowServerRequest(server_id=sid)).server
    option = ReinstallServerWithCloudInitOption(
        keyname=demo["keypair"]["name"], userid=demo["user_id"]
    )
    job = reinstall(client, sid, option)
    assert job.status == "SUCCESS", job
    assert job.entities.server_id == sid
    assert job.entities.sub_jobs_total == len(job.entities.sub_jobs) == 7
    assert all(s.status == "SUCCESS" for s in job.entities.sub_jobs)
    after = client.show_server(ShowServerRequest(server_id=sid)).server
    assert after.status == "ACTIVE" and after.key_name == demo["keypair"]["name"]
    old_sys = [v.id for v in before.os_extended_volumesvolumes_attached if v.boot_index == "0"]
    new_sys = [v.id for v in after.os_extended_volumesvolumes_attached if v.boot_index == "0"]
    assert len(new_sys) == 1 and new_sys != old_sys
    data_before = {v.id for v in before.os_extended_volumesvolumes_attached if v.boot_index != "0"}
    data_after = {v.id for v in after.os_extended_volumesvolumes_attached if v.boot_index != "0"}
    assert data_before == data_after and data_before


def test_sdk_stops_then_reinstalls_running_server_with_stop_mode(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    sid = demo["servers"]["running"]
    meta = ReinstallSeverMetadata(system__encrypted="1", system__cmkid=demo["kms"]["enabled"])
    option = ReinstallServerWithCloudInitOption(
        adminpass="!QAZxsw2", mode="withStopServer", metadata=meta
    )
    job = reinstall(client, sid, option)
    assert job.status == "SUCCESS"
    assert job.entities.sub_jobs[0].job_type == "stopServer"
    assert client.show_server(ShowServerRequest(server_id=sid)).server.status == "ACTIVE"


def test_sdk_batch_stop_then_reinstall(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    sid = demo["servers"]["running"]
    body = BatchStopServersRequestBody(
        os_stop=BatchStopServersOption(servers=[ServerId(id=sid)], type="SOFT")
    )
    stop = client.batch_stop_servers(BatchStopServersRequest(body=body))
    assert wait_for_job(client, stop.job_id).status == "SUCCESS"
    assert client.show_server(ShowServerRequest(server_id=sid)).server.status == "SHUTOFF"
    job = reinstall(client, sid, ReinstallServerWithCloudInitOption(adminpass="Passw0rd-x"))
    assert job.status == "SUCCESS"
    listed = client.list_servers_details(ListServersDetailsRequest(limit=100))
    assert listed.count == len(demo["servers"])
    assert {s.id: s.status for s in listed.servers}[sid] == "ACTIVE"


def test_sdk_sees_documented_errors(service: Service) -> None:
    demo = service.demo
    client = client_for(demo)
    with pytest.raises(ClientRequestException) as exc:
        reinstall(
            client,
            demo["servers"]["running"],
            ReinstallServerWithCloudInitOption(adminpass="!QAZxsw2"),
        )
    assert exc.value.status_code == 400 and exc.value.error_code == "Ecs.0100"
    assert exc.value.request_id
    with pytest.raises(ClientRequestException) as exc:
        client.show_job(ShowJobRequest(job_id="0" * 32))
    assert exc.value.error_code == "Common.0011"
    with pytest.raises(ClientRequestException) as exc:
        body = ReinstallServerWithCloudInitRequestBody(
            os_reinstall=ReinstallServerWithCloudInitOption(keyname="nope", userid=demo["user_id"])
        )
        client.reinstall_server_with_cloud_init(
            ReinstallServerWithCloudInitRequest(server_id=demo["servers"]["stopped"], body=body)
        )
    assert exc.value.error_code == "Ecs.0314"


def test_example_script_runs_against_the_demo(service: Service) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "sdk_reinstall.py"),
            str(service.data_dir / "demo.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("SUCCESS") == 2
