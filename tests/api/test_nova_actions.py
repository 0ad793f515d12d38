"""Nova's server actions are found by name and each validates its own option: a null or
malformed option is Nova's 400 (never a 500), ``os-stop``/``os-start`` take ``null`` or ``{}``
as Nova's clients send them, and the ECS batch actions refuse a null option the same way."""

from __future__ import annotations

import pytest

from tests.api.test_nova import _action, _fault, _settled
from tests.conftest import Api


@pytest.mark.parametrize("action", ["reboot", "rebuild"])
def test_a_null_option_is_a_bad_request(api: Api, action: str) -> None:
    sid = api.demo["servers"]["running"]
    _fault(_action(api, sid, {action: None}), "badRequest", 400)
    _fault(_action(api, sid, {action: []}), "badRequest", 400)
    _fault(_action(api, sid, {action: "SOFT"}), "badRequest", 400)


def test_a_malformed_option_names_the_field(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    message = _fault(_action(api, sid, {"rebuild": {"imageRef": 7}}), "badRequest", 400)
    assert "rebuild.imageRef" in message
    _fault(_action(api, sid, {"os-getConsoleOutput": {"length": [1]}}), "badRequest", 400)
    _fault(_action(api, sid, {"os-stop": {"force": True}}), "badRequest", 400)


def test_stop_and_start_accept_an_empty_object(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    resp = _action(api, sid, {"os-stop": {}})
    assert resp.status_code == 202, resp.text
    assert _settled(api, sid)["status"] == "SHUTOFF"
    resp = _action(api, sid, {"os-start": {}})
    assert resp.status_code == 202, resp.text
    assert _settled(api, sid)["status"] == "ACTIVE"


@pytest.mark.parametrize("action", ["os-stop", "os-start", "reboot"])
def test_ecs_batch_actions_refuse_a_null_option(api: Api, action: str) -> None:
    resp = api.client.post(f"/v1/{api.project}/cloudservers/action", json={action: None})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "Ecs.0005"
