"""Everything around a reinstall through the official SDK against a real process (sim driver):
the v1 reinstall and change OS for images without Cloud-Init, the one-click password reset
(one server, batch with dry_run, the flag, the server password) and the remote console URL,
each with its refusals (unknown server, another project's, wrong state, weak password, bad
bodies); plus Nova's ``changePassword`` and ``remote-consoles``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import (
    BatchResetServersPasswordRequest,
    BatchResetServersPasswordRequestBody,
    ChangeServerOsWithoutCloudInitOption,
    ChangeServerOsWithoutCloudInitRequest,
    ChangeServerOsWithoutCloudInitRequestBody,
    DeleteServerPasswordRequest,
    EcsClient,
    GetServerRemoteConsoleOption,
    ReinstallServerWithoutCloudInitOption,
    ReinstallServerWithoutCloudInitRequest,
    ReinstallServerWithoutCloudInitRequestBody,
    ResetServerPasswordOption,
    ResetServerPasswordRequest,
    ResetServerPasswordRequestBody,
    ServerId,
    ShowResetPasswordFlagRequest,
    ShowServerPasswordRequest,
    ShowServerRemoteConsoleRequest,
    ShowServerRemoteConsoleRequestBody,
    ShowServerRequest,
)
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from examples.sdk_reinstall import client_for, wait_for_job
from tests.support import Service

PASSWORD = "Around-2026!x"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # One process for the module; every sim step takes 0.1 s so a job can be caught running.
    svc = Service(tmp_path_factory.mktemp("around") / "data", env={"ECSLITE_SIM_DELAY": "0.1"})
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def client(service: Service) -> EcsClient:
    return client_for(service.demo)


def other_client(demo: dict[str, Any]) -> EcsClient:
    o = demo["other_project"]
    creds = BasicCredentials(o["access_key"], o["secret_key"], o["project_id"])
    return (
        EcsClient.new_builder().with_credentials(creds).with_endpoints([demo["endpoint"]]).build()
    )


def refused(call: Any, status: int, code: str) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as err:
        call()
    assert (err.value.status_code, err.value.error_code) == (status, code), err.value
    return err.value


def v1_reinstall(client: EcsClient, server_id: str, **option: Any) -> Any:
    body = ReinstallServerWithoutCloudInitRequestBody(
        os_reinstall=ReinstallServerWithoutCloudInitOption(**option)
    )
    return client.reinstall_server_without_cloud_init(
        ReinstallServerWithoutCloudInitRequest(server_id=server_id, body=body)
    )


def reset(client: EcsClient, server_id: str, password: str = PASSWORD) -> Any:
    body = ResetServerPasswordRequestBody(
        reset_password=ResetServerPasswordOption(new_password=password)
    )
    return client.reset_server_password(ResetServerPasswordRequest(server_id=server_id, body=body))


def console_url(client: EcsClient, server_id: str) -> str:
    body = ShowServerRemoteConsoleRequestBody(
        remote_console=GetServerRemoteConsoleOption(protocol="vnc", type="novnc")
    )
    resp = client.show_server_remote_console(
        ShowServerRemoteConsoleRequest(server_id=server_id, body=body)
    )
    assert (resp.remote_console.type, resp.remote_console.protocol) == ("novnc", "vnc")
    return str(resp.remote_console.url)


def steps(job: Any) -> list[str]:
    return [s.job_type for s in job.entities.sub_jobs]


def test_v1_reinstall_of_a_server_without_cloud_init(service: Service, client: EcsClient) -> None:
    demo = service.demo
    sid = demo["servers"]["no_cloudinit"]
    job = wait_for_job(client, v1_reinstall(client, sid, adminpass=PASSWORD).job_id)
    assert job.status == "SUCCESS", job
    assert job.job_type == "reinstallOS"
    # The credentials are written into the new disk; the boot is verified by the login prompt.
    assert "injectCredentials" in steps(job) and "verifyLoginPrompt" in steps(job)
    assert "verifyCloudInit" not in steps(job)
    # The same server through the v2 (cloud-init) API stays refused.
    resp = service.http().post(
        f"/v2/{demo['project_id']}/cloudservers/{sid}/reinstallos",
        json={"os-reinstall": {"adminpass": PASSWORD}},
    )
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "Ecs.0007")


def test_v1_reinstall_accepts_a_cloud_init_image_and_a_key(
    service: Service, client: EcsClient
) -> None:
    demo = service.demo
    job_id = v1_reinstall(
        client,
        demo["servers"]["stopped"],
        keyname=demo["keypair"]["name"],
        userid=demo["user_id"],
    ).job_id
    job = wait_for_job(client, job_id)
    assert job.status == "SUCCESS", job
    assert "verifyCloudInit" in steps(job) and "injectCredentials" not in steps(job)


def test_v1_change_os_to_an_image_without_cloud_init(service: Service, client: EcsClient) -> None:
    demo = service.demo
    sid = demo["servers"]["running"]
    body = ChangeServerOsWithoutCloudInitRequestBody(
        os_change=ChangeServerOsWithoutCloudInitOption(
            adminpass=PASSWORD, imageid=demo["images"]["no_cloudinit"], mode="withStopServer"
        )
    )
    resp = client.change_server_os_without_cloud_init(
        ChangeServerOsWithoutCloudInitRequest(server_id=sid, body=body)
    )
    job = wait_for_job(client, resp.job_id)
    assert job.status == "SUCCESS", job
    assert job.job_type == "changeOS"
    assert steps(job)[0] == "stopServer" and "injectCredentials" in steps(job)
    server = client.show_server(ShowServerRequest(server_id=sid)).server
    assert server.image.id == demo["images"]["no_cloudinit"]
    assert server.status == "ACTIVE"


def test_v1_reinstall_refusals(service: Service, client: EcsClient) -> None:
    demo = service.demo
    refused(lambda: v1_reinstall(client, MISSING, adminpass=PASSWORD), 404, "Ecs.0114")
    other = demo["other_project"]["servers"]["stopped"]
    refused(lambda: v1_reinstall(client, other, adminpass=PASSWORD), 404, "Ecs.0114")
    stopped = demo["servers"]["no_cloudinit"]
    refused(lambda: v1_reinstall(client, stopped, adminpass="weakpass"), 400, "Ecs.0011")
    # Running, without withStopServer: wrong state.
    running = demo["servers"]["running"]
    refused(lambda: v1_reinstall(client, running, adminpass=PASSWORD), 400, "Ecs.0100")
    # The v1 API has no user_data: sending it is refused, not ignored.
    http = service.http()
    resp = http.post(
        f"/v1/{demo['project_id']}/cloudservers/{stopped}/reinstallos",
        json={"os-reinstall": {"adminpass": PASSWORD, "metadata": {"user_data": "eA=="}}},
    )
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "Ecs.0005")
    resp = http.post(
        f"/v1/{demo['project_id']}/cloudservers/{stopped}/changeos",
        json={"os-change": {"adminpass": PASSWORD}},
    )
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "Ecs.0005")


def test_reset_password_on_a_running_and_a_stopped_server(
    service: Service, client: EcsClient
) -> None:
    demo = service.demo
    http = service.http()
    # "image_inactive" is SHUTOFF (the other demo servers were reinstalled, so run, by now);
    # its image has no agent, which an offline reset does not need.
    for key in ("running", "image_inactive"):
        sid = demo["servers"][key]
        wait_idle(client, sid)
        resp = http.put(
            f"/v1/{demo['project_id']}/cloudservers/{sid}/os-reset-password",
            json={"reset-password": {"new_password": PASSWORD}},
        )
        assert resp.status_code == 204, resp.text
        job = wait_for_job(client, resp.headers["X-Ecslite-Job-Id"])
        assert job.status == "SUCCESS", job
        assert steps(job) == ["resetPassword"]
        # Through the SDK too (204, no body); another password, or it would be a replay.
        wait_idle(client, sid)
        reset(client, sid, PASSWORD + "3")


def wait_idle(client: EcsClient, server_id: str) -> None:
    from tests.support import poll

    poll(
        lambda: client.show_server(ShowServerRequest(server_id=server_id)).server,
        until=lambda s: not s.os_ext_st_stask_state,
    )


def test_reset_password_refusals(service: Service, client: EcsClient) -> None:
    demo = service.demo
    running = demo["servers"]["running"]
    wait_idle(client, running)
    refused(lambda: reset(client, MISSING), 404, "Ecs.0114")
    refused(lambda: reset(client, demo["other_project"]["servers"]["stopped"]), 404, "Ecs.0114")
    refused(lambda: reset(client, running, "password"), 400, "Ecs.0011")
    # Busy: a reset while the server's own reset job runs.
    reset(client, running)
    # Another password: an identical signed request repeated within its second is a replay.
    refused(lambda: reset(client, running, PASSWORD + "2"), 400, "Ecs.0100")
    wait_idle(client, running)
    http = service.http()
    base = f"/v1/{demo['project_id']}/cloudservers/{running}/os-reset-password"
    for body in (
        {"reset-password": {"new_password": PASSWORD, "is_check_password": False}},
        {"reset-password": {"new_password": 12345678}},
        {"reset-password": {"new_password": PASSWORD, "extra": 1}},
        {"reset_password": {"new_password": PASSWORD}},
    ):
        resp = http.put(base, json=body)
        assert (resp.status_code, resp.json()["error"]["code"]) == (400, "Ecs.0005"), body


def test_batch_reset_with_dry_run(service: Service, client: EcsClient) -> None:
    demo = service.demo
    ids = [demo["servers"]["stopped"], demo["servers"]["no_cloudinit"]]
    for sid in ids:
        wait_idle(client, sid)

    def batch(servers: list[str], dry_run: bool, password: str = PASSWORD) -> Any:
        body = BatchResetServersPasswordRequestBody(
            new_password=password, dry_run=dry_run, servers=[ServerId(id=s) for s in servers]
        )
        return client.batch_reset_servers_password(BatchResetServersPasswordRequest(body=body))

    resp = batch(ids, True)
    assert sorted(s.id for s in resp.response) == sorted(ids)
    # A dry run changes nothing: the servers are idle at once.
    for sid in ids:
        assert not client.show_server(ShowServerRequest(server_id=sid)).server.os_ext_st_stask_state
    refused(lambda: batch([*ids, MISSING], True), 404, "Ecs.0114")
    refused(lambda: batch(ids, True, "weak"), 400, "Ecs.0011")
    refused(lambda: batch([ids[0], ids[0]], False), 400, "Ecs.0005")
    refused(lambda: batch([demo["other_project"]["servers"]["stopped"]], False), 404, "Ecs.0114")
    http = service.http()
    real = http.put(
        f"/v1/{demo['project_id']}/cloudservers/os-reset-passwords",
        json={"new_password": PASSWORD, "servers": [{"id": s} for s in ids]},
    )
    assert real.status_code == 200, real.text
    job = wait_for_job(client, real.headers["X-Ecslite-Job-Id"])
    assert job.status == "SUCCESS", job
    assert steps(job) == ["resetPassword", "resetPassword"]


def test_reset_password_flag_and_server_password(service: Service, client: EcsClient) -> None:
    demo = service.demo
    sid = demo["servers"]["stopped"]
    flag = client.show_reset_password_flag(ShowResetPasswordFlagRequest(server_id=sid))
    assert flag.resetpwd_flag == "True"
    assert client.show_server_password(ShowServerPasswordRequest(server_id=sid)).password == ""
    client.delete_server_password(DeleteServerPasswordRequest(server_id=sid))
    other = demo["other_project"]["servers"]["stopped"]
    for missing in (MISSING, other):
        refused(
            lambda m=missing: client.show_reset_password_flag(
                ShowResetPasswordFlagRequest(server_id=m)
            ),
            404,
            "Ecs.0114",
        )
        refused(
            lambda m=missing: client.show_server_password(ShowServerPasswordRequest(server_id=m)),
            404,
            "Ecs.0114",
        )
        refused(
            lambda m=missing: client.delete_server_password(
                DeleteServerPasswordRequest(server_id=m)
            ),
            404,
            "Ecs.0114",
        )


def test_an_image_without_the_agent_resets_only_offline(
    service: Service, client: EcsClient
) -> None:
    demo = service.demo
    http = service.http()
    sid = demo["servers"]["image_inactive"]  # its image is queued: change it to "alt" first
    wait_idle(client, sid)
    resp = http.post(
        f"/v1/{demo['project_id']}/cloudservers/{sid}/changeos",
        json={"os-change": {"adminpass": PASSWORD, "imageid": demo["images"]["alt"]}},
    )
    assert resp.status_code == 200, resp.text
    assert wait_for_job(client, resp.json()["job_id"]).status == "SUCCESS"
    flag = client.show_reset_password_flag(ShowResetPasswordFlagRequest(server_id=sid))
    assert flag.resetpwd_flag == "False"
    # Running: the guest has no agent to set it.
    refused(lambda: reset(client, sid), 400, "Ecs.0007")


def test_remote_console_url_on_sim(service: Service, client: EcsClient) -> None:
    demo = service.demo
    running = demo["servers"]["running"]
    wait_idle(client, running)
    url = console_url(client, running)
    assert url.startswith(f"{service.endpoint}/console/remote/")
    page = httpx.get(url)
    assert page.status_code == 200
    assert "sim driver has no screen" in page.text
    # A WebSocket with it gets nothing: the sim has no screen to relay.
    ws = url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus):
        connect(ws, open_timeout=5).close()
    # A forged token: no page, no WebSocket.
    forged = f"{service.endpoint}/console/remote/forged-token"
    assert httpx.get(forged).status_code == 404
    with pytest.raises(InvalidStatus):
        connect(forged.replace("http://", "ws://") + "/ws", open_timeout=5).close()
    # The token is a credential: the access log names the page without it.
    token = url.rsplit("/", 1)[1]
    assert "/console/remote/<token>" in service.log() and token not in service.log()


def test_remote_console_refusals(service: Service, client: EcsClient) -> None:
    demo = service.demo
    refused(lambda: console_url(client, MISSING), 404, "Ecs.0114")
    refused(lambda: console_url(client, demo["servers"]["no_system_disk"]), 400, "Ecs.0100")
    refused(lambda: console_url(other_client(demo), demo["servers"]["running"]), 404, "Ecs.0114")
    http = service.http()
    path = f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}/remote_console"
    for body in (
        {"remote_console": {"type": "spice", "protocol": "vnc"}},
        {"remote_console": {"type": "novnc"}},
        {"remote_console": {"type": "novnc", "protocol": "vnc", "x": 1}},
        {"remote_console": None},
    ):
        resp = http.post(path, json=body)
        assert (resp.status_code, resp.json()["error"]["code"]) == (400, "Ecs.0005"), body


def test_nova_remote_consoles_and_change_password(service: Service, client: EcsClient) -> None:
    demo = service.demo
    http = service.http()
    running = demo["servers"]["running"]
    wait_idle(client, running)
    path = f"/v2.1/{demo['project_id']}/servers/{running}/remote-consoles"
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    old = http.post(path, json=body, headers={"OpenStack-API-Version": "compute 2.5"})
    assert old.status_code == 404 and "itemNotFound" in old.json()
    # Another key order: an identical signed request within its second would be a replay.
    body = {"remote_console": {"type": "novnc", "protocol": "vnc"}}
    resp = http.post(path, json=body, headers={"OpenStack-API-Version": "compute 2.6"})
    assert resp.status_code == 200, resp.text
    assert "/console/remote/" in resp.json()["remote_console"]["url"]
    bad = http.post(
        path,
        json={"remote_console": {"protocol": "rdp", "type": "novnc"}},
        headers={"OpenStack-API-Version": "compute 2.6"},
    )
    assert bad.status_code == 400 and "badRequest" in bad.json()
    action = f"/v2.1/{demo['project_id']}/servers/{running}/action"
    changed = http.post(action, json={"changePassword": {"adminPass": PASSWORD}})
    assert changed.status_code == 202, changed.text
    wait_idle(client, running)
    weak = http.post(action, json={"changePassword": {"adminPass": ""}})
    assert weak.status_code == 400 and "badRequest" in weak.json()
    stopped = f"/v2.1/{demo['project_id']}/servers/{demo['servers']['no_system_disk']}/action"
    conflict = http.post(stopped, json={"changePassword": {"adminPass": PASSWORD}})
    assert conflict.status_code == 409 and "conflictingRequest" in conflict.json()
    missing = f"/v2.1/{demo['project_id']}/servers/{MISSING}/action"
    gone = http.post(missing, json={"changePassword": {"adminPass": PASSWORD}})
    assert gone.status_code == 404 and "itemNotFound" in gone.json()


def test_cli_reset_password_and_console_url(service: Service, client: EcsClient) -> None:
    import subprocess
    import sys

    demo = service.demo
    running = demo["servers"]["running"]
    wait_idle(client, running)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ecslite", *args, "--data-dir", str(service.data_dir)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = cli("reset-password", running, "--watch", stdin="Cli-Reset-2026\n")
    assert done.returncode == 0, done.stderr
    assert "SUCCESS" in done.stdout
    # The password never appears in what the CLI prints.
    assert "Cli-Reset-2026" not in done.stdout + done.stderr
    weak = cli("reset-password", running, stdin="weak\n")
    assert weak.returncode != 0 and "Ecs.0011" in weak.stderr
    url = cli("console-url", running)
    assert url.returncode == 0, url.stderr
    assert url.stdout.strip().startswith(f"{service.endpoint}/console/remote/")
    missing = cli("console-url", MISSING)
    assert missing.returncode != 0 and "Ecs.0114" in missing.stderr
