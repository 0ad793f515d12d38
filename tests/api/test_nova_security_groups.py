"""Nova's ``addSecurityGroup``/``removeSecurityGroup`` on a cloud without Neutron: ``default``
is the one group; a server's membership is kept and shown in show and detail (Nova leaves
``security_groups`` out for a server in no group), and refusals are Nova's (404 for an unknown
group or one the server is not in, 400 for a malformed body)."""

from __future__ import annotations

from typing import Any

from tests.api.test_nova import MISSING, _action, _fault, _nova, _server
from tests.conftest import Api


def _detail(api: Api, sid: str) -> dict[str, Any]:
    resp = _nova(api, "GET", "/servers/detail", "2.60")
    assert resp.status_code == 200, resp.text
    return next(s for s in resp.json()["servers"] if s["id"] == sid)


def test_remove_and_add_the_default_group(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    assert _server(api, sid)["security_groups"] == [{"name": "default"}]
    resp = _action(api, sid, {"removeSecurityGroup": {"name": "default"}})
    assert resp.status_code == 202, resp.text
    assert "security_groups" not in _server(api, sid)
    assert "security_groups" not in _detail(api, sid)
    # Removing it again: the server is not in it (Nova's 404).
    again = _action(api, sid, {"removeSecurityGroup": {"name": "default"}})
    assert "not associated with the instance" in _fault(again, "itemNotFound", 404)
    assert _action(api, sid, {"addSecurityGroup": {"name": "default"}}).status_code == 202
    assert _server(api, sid)["security_groups"] == [{"name": "default"}]
    # Adding a group the server is in changes nothing.
    assert _action(api, sid, {"addSecurityGroup": {"name": "default"}}).status_code == 202
    assert _detail(api, sid)["security_groups"] == [{"name": "default"}]


def test_membership_survives_a_rebuild_and_is_not_in_the_rebuild_answer(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    assert _action(api, sid, {"removeSecurityGroup": {"name": "default"}}).status_code == 202
    resp = _action(api, sid, {"rebuild": {"imageRef": api.demo["images"]["cloudinit"]}})
    assert resp.status_code == 202, resp.text
    assert "security_groups" not in resp.json()["server"]  # a 2.75 field, as before
    assert "security_groups" not in _server(api, sid)


def test_refusals_are_novas(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    unknown = _action(api, sid, {"addSecurityGroup": {"name": "web"}})
    assert "Security group web is not found" in _fault(unknown, "itemNotFound", 404)
    unknown = _action(api, sid, {"removeSecurityGroup": {"name": "web"}})
    _fault(unknown, "itemNotFound", 404)
    _fault(_action(api, MISSING, {"addSecurityGroup": {"name": "default"}}), "itemNotFound", 404)
    for option in ({}, {"name": ""}, {"name": "  "}, {"name": 1}, {"name": "a", "x": 1}, None):
        resp = _action(api, sid, {"removeSecurityGroup": option})
        _fault(resp, "badRequest", 400)
    # None of these changed the membership.
    assert _server(api, sid)["security_groups"] == [{"name": "default"}]


def test_another_projects_server_is_not_found(api: Api) -> None:
    sid = api.demo["other_project"]["servers"]["stopped"]
    resp = _action(api, sid, {"removeSecurityGroup": {"name": "default"}})
    _fault(resp, "itemNotFound", 404)
