"""Secrets never come back out: a reinstall's ``adminpass`` (and the SK, the user's password, a
token) appear nowhere in the database files, the service log or any API response; only the
password's SHA-512 crypt hash is kept. Files holding secrets are private to their owner."""

from __future__ import annotations

import json
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2.model import (
    ListServersDetailsRequest,
    ReinstallServerWithCloudInitOption,
    ReinstallServerWithCloudInitRequest,
    ReinstallServerWithCloudInitRequestBody,
    ReinstallSeverMetadata,
    ShowJobRequest,
    ShowServerRequest,
)
from passlib.hash import sha512_crypt

from tests.auth.conftest import TERMINAL, Service, password_login, poll, sdk_client

pytestmark = pytest.mark.process  # a real `ecslite serve` (tests/auth/conftest.py)


@pytest.fixture
def own_service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path / "data").start()
    try:
        yield svc
    finally:
        svc.stop()


def _reinstall(ecs: Any, server_id: str, **option: Any) -> Any:
    return ecs.reinstall_server_with_cloud_init(
        ReinstallServerWithCloudInitRequest(
            server_id=server_id,
            body=ReinstallServerWithCloudInitRequestBody(
                os_reinstall=ReinstallServerWithCloudInitOption(**option)
            ),
        )
    )


def test_adminpass_and_credentials_leave_no_trace(own_service: Service) -> None:
    svc = own_service
    demo = svc.demo
    adminpass = "Hyg-" + secrets.token_hex(6) + "Q9"  # meets the complexity rules
    weak = "weak" + secrets.token_hex(6)  # refused: lowercase and digits only
    responses: list[bytes] = []

    tok = httpx.post(f"{svc.endpoint}/v3/auth/tokens", json=password_login(demo))
    assert tok.status_code == 201
    token = tok.headers["X-Subject-Token"]
    responses.append(tok.content)

    ecs = sdk_client(svc.endpoint, demo["access_key"], demo["secret_key"], demo["project_id"])
    sid = demo["servers"]["stopped"]
    for bad in (
        {"adminpass": weak},
        {"adminpass": adminpass, "keyname": "demo-key", "userid": demo["user_id"]},
    ):
        with pytest.raises(ClientRequestException) as exc:
            _reinstall(ecs, sid, **bad)
        assert exc.value.status_code == 400
        responses.append(f"{exc.value.error_code} {exc.value.error_msg}".encode())
    accepted = _reinstall(
        ecs,
        sid,
        adminpass=adminpass,
        metadata=ReinstallSeverMetadata(user_data="I2Nsb3VkLWNvbmZpZwo="),
    )
    responses.append(accepted.raw_content)

    def job() -> Any:
        resp = ecs.show_job(ShowJobRequest(job_id=accepted.job_id))
        responses.append(resp.raw_content)
        return resp

    assert poll(job, until=lambda j: j.status in TERMINAL).status == "SUCCESS"
    responses.append(ecs.show_server(ShowServerRequest(server_id=sid)).raw_content)
    responses.append(ecs.list_servers_details(ListServersDetailsRequest()).raw_content)
    with httpx.Client(base_url=svc.endpoint, headers={"X-Auth-Token": token}) as api:
        p = demo["project_id"]
        for path in (
            f"/v1/{p}/jobs/{accepted.job_id}",
            f"/v1/{p}/cloudservers/{sid}",
            f"/v1/{p}/cloudservers/detail",
            f"/v2.1/{p}/os-keypairs",
        ):
            resp = api.get(path)
            assert resp.status_code == 200
            responses.append(resp.content + json.dumps(dict(resp.headers)).encode())

    # Positive control: the password did arrive, reduced to its SHA-512 crypt hash.
    db = svc.data_dir / "ecslite.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (boot,) = conn.execute("SELECT boot_config FROM servers WHERE id = ?", (sid,)).fetchone()
    stored_hash = json.loads(boot)["password_hash"]
    assert stored_hash.startswith("$6$") and sha512_crypt.verify(adminpass, stored_hash)

    svc.stop()  # flush the log and checkpoint the WAL; then look everywhere
    secrets_ = {
        "adminpass": adminpass,
        "refused adminpass": weak,
        "token": token,
        "secret key": demo["secret_key"],
        "user password": demo["password"],
        "other secret key": demo["other_project"]["secret_key"],
    }
    stores = {
        p.name: p.read_bytes() for p in svc.data_dir.iterdir() if p.name.startswith("ecslite.db")
    }
    stores["service log"] = svc.log_path.read_bytes()
    for i, body in enumerate(responses):
        stores[f"response {i}"] = body
    assert len(stores) > 10
    for what, value in secrets_.items():
        for where, content in stores.items():
            assert value.encode() not in content, f"{what} found in {where}"
    # demo.json holds the demo keys by design, but never a reinstall password; nor does any
    # other file of the data dir (the sim host's state among them).
    for path in svc.data_dir.rglob("*"):
        if path.is_file():
            assert adminpass.encode() not in path.read_bytes(), path


def test_files_holding_secrets_are_private(own_service: Service) -> None:
    data = own_service.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("ecslite.db", "demo.json", "demo-key.pem", "master.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    for extra in data.glob("ecslite.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra.name


def test_reset_and_v1_reinstall_passwords_leave_no_trace(own_service: Service) -> None:
    """The one-click reset (one server, batch, dry run, Nova changePassword, a refused weak
    one) and the v1 reinstall: the new passwords reach no database file, log line or response;
    the reset job keeps only the SHA-512 crypt hash."""
    svc = own_service
    demo = svc.demo
    p = demo["project_id"]
    running, stopped = demo["servers"]["running"], demo["servers"]["no_cloudinit"]
    fresh = {k: "Rst-" + secrets.token_hex(6) + "Q9" for k in ("one", "batch", "dry", "nova", "v1")}
    weak = "weak" + secrets.token_hex(6)
    responses: list[bytes] = []
    ecs = sdk_client(svc.endpoint, demo["access_key"], demo["secret_key"], demo["project_id"])

    def idle(sid: str) -> None:
        poll(
            lambda: ecs.show_server(ShowServerRequest(server_id=sid)).server,
            until=lambda s: not s.os_ext_st_stask_state,
        )

    with svc.http() as api:

        def send(method: str, path: str, body: dict[str, Any]) -> httpx.Response:
            resp = api.request(method, path, json=body)
            responses.append(resp.content + json.dumps(dict(resp.headers)).encode())
            return resp

        one = send(
            "PUT",
            f"/v1/{p}/cloudservers/{running}/os-reset-password",
            {"reset-password": {"new_password": fresh["one"]}},
        )
        assert one.status_code == 204, one.text
        job_id = one.headers["X-Ecslite-Job-Id"]
        idle(running)
        assert (
            send(
                "PUT",
                f"/v1/{p}/cloudservers/{running}/os-reset-password",
                {"reset-password": {"new_password": weak}},
            ).status_code
            == 400
        )
        servers = [{"id": running}, {"id": stopped}]
        dry = send(
            "PUT",
            f"/v1/{p}/cloudservers/os-reset-passwords",
            {"new_password": fresh["dry"], "dry_run": True, "servers": servers},
        )
        assert dry.status_code == 200, dry.text
        batch = send(
            "PUT",
            f"/v1/{p}/cloudservers/os-reset-passwords",
            {"new_password": fresh["batch"], "servers": servers},
        )
        assert batch.status_code == 200, batch.text
        idle(running)
        idle(stopped)
        nova = send(
            "POST",
            f"/v2.1/{p}/servers/{running}/action",
            {"changePassword": {"adminPass": fresh["nova"]}},
        )
        assert nova.status_code == 202, nova.text
        idle(running)
        v1 = send(
            "POST",
            f"/v1/{p}/cloudservers/{stopped}/reinstallos",
            {"os-reinstall": {"adminpass": fresh["v1"]}},
        )
        assert v1.status_code == 200, v1.text
        idle(stopped)
        for path in (f"/v1/{p}/jobs/{job_id}", f"/v1/{p}/cloudservers/{running}"):
            resp = api.get(path)
            responses.append(resp.content)

    # Positive control: the reset job holds the password as its SHA-512 crypt hash.
    db = svc.data_dir / "ecslite.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (params,) = conn.execute("SELECT params FROM jobs WHERE id = ?", (job_id,)).fetchone()
    stored = json.loads(params)["password_hash"]
    assert stored.startswith("$6$") and sha512_crypt.verify(fresh["one"], stored)

    svc.stop()
    stores = {
        p.name: p.read_bytes() for p in svc.data_dir.iterdir() if p.name.startswith("ecslite.db")
    }
    stores["service log"] = svc.log_path.read_bytes()
    for i, body in enumerate(responses):
        stores[f"response {i}"] = body
    for what, value in {**fresh, "weak": weak}.items():
        for where, content in stores.items():
            assert value.encode() not in content, f"{what} password found in {where}"
