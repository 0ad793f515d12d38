"""Every implemented operation works through the official SDK (AK/SK signing) and through an
``X-Auth-Token`` from ``POST /v3/auth/tokens``, against a real ``ecslite serve`` process."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import EcsClient
from huaweicloudsdkecs.v2.model import (
    BatchStartServersOption,
    BatchStartServersRequest,
    BatchStartServersRequestBody,
    BatchStopServersOption,
    BatchStopServersRequest,
    BatchStopServersRequestBody,
    ListServersDetailsRequest,
    NovaCreateKeypairOption,
    NovaCreateKeypairRequest,
    NovaCreateKeypairRequestBody,
    NovaDeleteKeypairRequest,
    NovaListKeypairsRequest,
    NovaShowKeypairRequest,
    ReinstallServerWithCloudInitOption,
    ReinstallServerWithCloudInitRequest,
    ReinstallServerWithCloudInitRequestBody,
    ServerId,
    ShowServerRequest,
)

from tests.auth.conftest import Service, error_of, poll, sdk_client, wait_job

pytestmark = pytest.mark.process  # a real `ecslite serve` (tests/auth/conftest.py)


@pytest.fixture(autouse=True)
def _quiet_deprecations() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def test_sdk_drives_every_operation(ecs: EcsClient, demo: dict[str, Any]) -> None:
    stopped = demo["servers"]["stopped"]
    listed = ecs.list_servers_details(ListServersDetailsRequest(limit=50))
    ids = {s.id for s in listed.servers}
    assert stopped in ids and demo["other_project"]["servers"]["stopped"] not in ids
    assert listed.count == len(ids)
    assert ecs.show_server(ShowServerRequest(server_id=stopped)).server.status == "SHUTOFF"

    accepted = ecs.reinstall_server_with_cloud_init(
        ReinstallServerWithCloudInitRequest(
            server_id=stopped,
            body=ReinstallServerWithCloudInitRequestBody(
                os_reinstall=ReinstallServerWithCloudInitOption(
                    keyname=demo["keypair"]["name"], userid=demo["user_id"]
                )
            ),
        )
    )
    assert wait_job(ecs, accepted.job_id).status == "SUCCESS"
    assert ecs.show_server(ShowServerRequest(server_id=stopped)).server.status == "ACTIVE"

    stop = ecs.batch_stop_servers(
        BatchStopServersRequest(
            body=BatchStopServersRequestBody(
                os_stop=BatchStopServersOption(servers=[ServerId(id=stopped)], type="SOFT")
            )
        )
    )
    assert wait_job(ecs, stop.job_id).status == "SUCCESS"
    assert ecs.show_server(ShowServerRequest(server_id=stopped)).server.status == "SHUTOFF"
    start = ecs.batch_start_servers(
        BatchStartServersRequest(
            body=BatchStartServersRequestBody(
                os_start=BatchStartServersOption(servers=[ServerId(id=stopped)])
            )
        )
    )
    assert wait_job(ecs, start.job_id).status == "SUCCESS"
    assert ecs.show_server(ShowServerRequest(server_id=stopped)).server.status == "ACTIVE"

    created = ecs.nova_create_keypair(
        NovaCreateKeypairRequest(
            body=NovaCreateKeypairRequestBody(keypair=NovaCreateKeypairOption(name="sdk-key"))
        )
    )
    assert created.keypair.private_key.startswith("-----BEGIN")
    names = [k.keypair.name for k in ecs.nova_list_keypairs(NovaListKeypairsRequest()).keypairs]
    assert "sdk-key" in names and demo["keypair"]["name"] in names
    shown = ecs.nova_show_keypair(NovaShowKeypairRequest(keypair_name="sdk-key")).keypair
    assert shown.fingerprint == created.keypair.fingerprint
    ecs.nova_delete_keypair(NovaDeleteKeypairRequest(keypair_name="sdk-key"))
    with pytest.raises(ClientRequestException) as exc:
        ecs.nova_show_keypair(NovaShowKeypairRequest(keypair_name="sdk-key"))
    # Nova's answer for a missing key pair (what openstacksdk and Terraform read as gone).
    assert exc.value.status_code == 404


def test_token_drives_every_operation(service: Service, demo: dict[str, Any], token: str) -> None:
    api = httpx.Client(base_url=service.endpoint, headers={"X-Auth-Token": token}, timeout=30)
    p = demo["project_id"]
    running = demo["servers"]["running"]

    def ok(resp: httpx.Response, status: int = 200) -> Any:
        assert resp.status_code == status, resp.text
        return resp.json() if resp.content else None

    def job(job_id: str) -> dict[str, Any]:
        return dict(
            poll(
                lambda: ok(api.get(f"/v1/{p}/jobs/{job_id}")),
                until=lambda j: j["status"] in ("SUCCESS", "FAIL"),
            )
        )

    listed = ok(api.get(f"/v1/{p}/cloudservers/detail", params={"limit": 50}))
    assert running in {s["id"] for s in listed["servers"]}
    assert ok(api.get(f"/v1/{p}/cloudservers/{running}"))["server"]["status"] == "ACTIVE"
    body = {"os-reinstall": {"adminpass": "Token-Flow-9x", "mode": "withStopServer"}}
    job_id = ok(api.post(f"/v2/{p}/cloudservers/{running}/reinstallos", json=body))["job_id"]
    assert job(job_id)["status"] == "SUCCESS"
    for action in ("os-stop", "os-start"):
        j = ok(
            api.post(f"/v1/{p}/cloudservers/action", json={action: {"servers": [{"id": running}]}})
        )
        assert job(j["job_id"])["status"] == "SUCCESS"
    assert ok(api.get(f"/v1/{p}/cloudservers/{running}"))["server"]["status"] == "ACTIVE"
    kp = ok(api.post(f"/v2.1/{p}/os-keypairs", json={"keypair": {"name": "token-key"}}))
    assert kp["keypair"]["name"] == "token-key"
    assert "token-key" in [
        k["keypair"]["name"] for k in ok(api.get(f"/v2.1/{p}/os-keypairs"))["keypairs"]
    ]
    assert ok(api.get(f"/v2.1/{p}/os-keypairs/token-key"))["keypair"]["name"] == "token-key"
    ok(api.delete(f"/v2.1/{p}/os-keypairs/token-key"), 202)  # 2.1: Nova's 202
    vols = ok(api.get(f"/v2/{p}/cloudvolumes/detail", params={"server_id": running}))
    assert vols["count"] == 2 and {v["bootable"] for v in vols["volumes"]} == {"true", "false"}
    one = vols["volumes"][0]["id"]
    assert ok(api.get(f"/v2/{p}/cloudvolumes/{one}"))["volume"]["status"] == "in-use"


def test_token_by_ids_and_response_shape(service: Service, demo: dict[str, Any]) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": demo["user_id"], "password": demo["password"]}},
            },
            "scope": {"project": {"id": demo["project_id"]}},
        }
    }
    resp = httpx.post(f"{service.endpoint}/v3/auth/tokens", json=body)
    assert resp.status_code == 201, resp.text
    tok = resp.json()["token"]
    assert resp.headers["X-Subject-Token"] not in resp.text
    assert tok["project"]["id"] == demo["project_id"]
    assert tok["user"]["domain"]["name"] == demo["domain_name"]
    assert tok["expires_at"] > tok["issued_at"]
    assert tok["expires_at"].endswith("Z")


def test_cli_reinstall_watch_signs_its_requests(service: Service, demo: dict[str, Any]) -> None:
    sid = demo["servers"]["stopped"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "reinstall",
            sid,
            "--data-dir",
            str(service.data_dir),
            "--keyname",
            demo["keypair"]["name"],
            "--userid",
            demo["user_id"],
            "--stop",
            "--watch",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_credentials_create_prints_a_working_key_once(
    service: Service, demo: dict[str, Any]
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "credentials",
            "create",
            "--user",
            demo["user_name"],
            "--data-dir",
            str(service.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    fields = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    ak, sk = fields["access_key"], fields["secret_key"]
    assert fields["user_id"] == demo["user_id"]
    client = sdk_client(service.endpoint, ak, sk, demo["project_id"])
    assert client.list_servers_details(ListServersDetailsRequest()).count >= 1
    assert sk.encode() not in (service.data_dir / "ecslite.db").read_bytes()

    subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "credentials",
            "delete",
            ak,
            "--data-dir",
            str(service.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    resp = httpx.get(f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/detail")
    assert resp.status_code == 401
    with pytest.raises(ClientRequestException) as exc:
        client.list_servers_details(ListServersDetailsRequest())
    assert exc.value.status_code == 401
    assert exc.value.error_code == "Common.0013"
    error_of(resp)
