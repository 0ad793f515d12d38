"""Every refusal rule of the reinstall API answers with its documented code and HTTP status,
and a refused request changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import Api


def _error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return str(body["error"]["message"])


def _unchanged(api: Api, server_id: str, before: dict[str, Any]) -> None:
    after = api.server(server_id)
    assert after["status"] == before["status"]
    assert (
        after["os-extended-volumes:volumes_attached"]
        == before["os-extended-volumes:volumes_attached"]
    )


def test_unknown_server_is_404_ecs_0114(api: Api) -> None:
    _error(
        api.reinstall("00000000-0000-0000-0000-000000000000", **api.key_login()), 404, "Ecs.0114"
    )


def test_unknown_job_is_common_0011(api: Api) -> None:
    _error(
        api.client.get(f"/v1/{api.project}/jobs/ffffffffffffffffffffffffffffffff"),
        400,
        "Common.0011",
    )


def test_image_without_cloud_init_is_refused(api: Api) -> None:
    sid = api.demo["servers"]["no_cloudinit"]
    before = api.server(sid)
    msg = _error(api.reinstall(sid, **api.key_login()), 400, "Ecs.0007")
    assert "Cloud-Init" in msg
    _unchanged(api, sid, before)


def test_inactive_image_is_refused(api: Api) -> None:
    _error(api.reinstall(api.demo["servers"]["image_inactive"], **api.key_login()), 400, "Ecs.0032")


def test_running_server_without_stop_mode_is_ecs_0100(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    before = api.server(sid)
    msg = _error(api.reinstall(sid, **api.key_login()), 400, "Ecs.0100")
    assert "withStopServer" in msg
    _unchanged(api, sid, before)


def test_server_without_system_disk_is_ecs_0105(api: Api) -> None:
    _error(api.reinstall(api.demo["servers"]["no_system_disk"], **api.key_login()), 400, "Ecs.0105")


def test_second_reinstall_while_one_runs_is_refused(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    first = api.reinstall(sid, **api.key_login())
    assert first.status_code == 200, first.text
    _error(api.reinstall(sid, **api.key_login()), 400, "Ecs.0100")
    job = api.wait(first.json()["job_id"])
    assert job["status"] == "SUCCESS"


@pytest.mark.parametrize("action", ["os-stop", "os-start"])
def test_power_actions_while_reinstalling_are_refused(slow_api: Api, action: str) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    job_id = api.reinstall(sid, **api.key_login()).json()["job_id"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/action", json={action: {"servers": [{"id": sid}]}}
    )
    _error(resp, 400, "Ecs.0100")
    assert api.wait(job_id)["status"] == "SUCCESS"
    assert api.server(sid)["status"] == "ACTIVE"


def test_adminpass_and_keyname_together_are_refused(api: Api) -> None:
    resp = api.reinstall(api.demo["servers"]["stopped"], adminpass="!QAZxsw2", **api.key_login())
    assert "together" in _error(resp, 400, "Ecs.0005")


def test_no_credentials_and_no_user_data_is_refused(api: Api) -> None:
    resp = api.reinstall(api.demo["servers"]["stopped"], userid=api.demo["user_id"])
    _error(resp, 400, "Ecs.0005")


def test_user_data_alone_is_enough(api: Api) -> None:
    ud = base64.b64encode(b"#!/bin/bash\necho hi > /root/hi\n").decode()
    resp = api.reinstall(api.demo["servers"]["stopped"], metadata={"user_data": ud})
    assert resp.status_code == 200, resp.text


def test_keyname_requires_userid(api: Api) -> None:
    resp = api.reinstall(api.demo["servers"]["stopped"], keyname=api.demo["keypair"]["name"])
    assert "userid" in _error(resp, 400, "Ecs.0005")


def test_unknown_keypair_is_ecs_0314(api: Api) -> None:
    resp = api.reinstall(
        api.demo["servers"]["stopped"], keyname="no-such-key", userid=api.demo["user_id"]
    )
    _error(resp, 400, "Ecs.0314")


def test_keypair_of_another_user_is_ecs_0314(api: Api) -> None:
    other_user = api.demo["other_project"]["user_id"]
    resp = api.reinstall(
        api.demo["servers"]["stopped"], keyname=api.demo["keypair"]["name"], userid=other_user
    )
    _error(resp, 400, "Ecs.0314")


@pytest.mark.parametrize(
    "password",
    [
        "Ab1!",  # too short
        "Abcdefgh1!" * 3,  # 30 characters: too long
        "abcdefgh12",  # two classes only
        "ABCDEFGH!!",  # two classes only
        "Abcdefg1#",  # '#' is not an allowed special character
        "Abcdéfgh1!",  # non-ASCII letter
    ],
)
def test_weak_or_malformed_adminpass_is_ecs_0011(api: Api, password: str) -> None:
    resp = api.reinstall(api.demo["servers"]["stopped"], adminpass=password)
    msg = _error(resp, 400, "Ecs.0011")
    assert password not in msg


@pytest.mark.parametrize(
    "password", ["!QAZxsw2", "Abcdefg1", "abc-def_12", "A" * 12 + "b" * 12 + "1?"]
)
def test_valid_adminpass_is_accepted(api: Api, password: str) -> None:
    resp = api.reinstall(api.demo["servers"]["stopped"], adminpass=password)
    assert resp.status_code == 200, resp.text


def test_user_data_must_be_base64(api: Api) -> None:
    resp = api.reinstall(
        api.demo["servers"]["stopped"], adminpass="!QAZxsw2", metadata={"user_data": "not base64!"}
    )
    assert "base64" in _error(resp, 400, "Ecs.0005")


def test_user_data_over_32kb_is_refused_and_32kb_is_accepted(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    too_big = base64.b64encode(b"x" * (32 * 1024 + 1)).decode()
    _error(api.reinstall(sid, metadata={"user_data": too_big}), 400, "Ecs.0005")
    just_right = base64.b64encode(b"#!/bin/sh\n" + b"#" * (32 * 1024 - 10)).decode()
    assert api.reinstall(sid, metadata={"user_data": just_right}).status_code == 200


def test_encrypted_flag_must_be_0_or_1(api: Api) -> None:
    resp = api.reinstall(
        api.demo["servers"]["stopped"], **api.key_login(), metadata={"__system__encrypted": "yes"}
    )
    _error(resp, 400, "Ecs.0005")


def test_encryption_without_cmk_is_ecs_0912(api: Api) -> None:
    resp = api.reinstall(
        api.demo["servers"]["stopped"], **api.key_login(), metadata={"__system__encrypted": "1"}
    )
    _error(resp, 400, "Ecs.0912")


@pytest.mark.parametrize("which", ["missing", "disabled", "foreign"])
def test_encryption_with_unusable_cmk_is_ecs_0912(api: Api, which: str) -> None:
    cmk = {
        "missing": "6a0c3a3e-0000-4000-8000-000000000000",
        "disabled": api.demo["kms"]["disabled"],
        "foreign": "not-a-key-of-this-project",
    }[which]
    meta = {"__system__encrypted": "1", "__system__cmkid": cmk}
    _error(
        api.reinstall(api.demo["servers"]["stopped"], **api.key_login(), metadata=meta),
        400,
        "Ecs.0912",
    )


def test_empty_body_is_common_0002(api: Api) -> None:
    resp = api.client.post(
        f"/v2/{api.project}/cloudservers/{api.demo['servers']['stopped']}/reinstallos",
        content=b"",
        headers={"Content-Type": "application/json"},
    )
    _error(resp, 400, "Common.0002")


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"os-reinstall": "x"}',
        b'{"os-reinstall": {"keyname": 123, "userid": "u"}}',
        b'{"os-reinstall": {"adminpass": "!QAZxsw2", "mode": "withoutStop"}}',
        b'{"os-reinstall": {"adminpass": "!QAZxsw2", "metadata": {"user_data": 5}}}',
        b'{"something-else": {}}',
        b"[" * 100000 + b"]" * 100000,
    ],
)
def test_malformed_bodies_are_ecs_0005(api: Api, raw: bytes) -> None:
    sid = api.demo["servers"]["stopped"]
    before = api.server(sid)
    resp = api.client.post(
        f"/v2/{api.project}/cloudservers/{sid}/reinstallos",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code in (400, 413), resp.text
    assert resp.json()["error"]["code"] == "Ecs.0005"
    _unchanged(api, sid, before)


def test_foreign_projects_server_looks_missing(api: Api) -> None:
    foreign = api.demo["other_project"]["servers"]["stopped"]
    _error(api.reinstall(foreign, **api.key_login()), 404, "Ecs.0114")
    _error(api.client.get(f"/v1/{api.project}/cloudservers/{foreign}"), 404, "Ecs.0114")
