"""Nova's per-server routes beside the server itself: metadata, tags (2.26+), ips,
os-server-password; forceDelete/restore; a deleted server's actions (2.21+); the update's
answer and accessIPv6 as Nova keeps them."""

from __future__ import annotations

from typing import Any

import pytest

from ecslite.domain import limits
from tests.api.test_glance_writes import _create as glance_create
from tests.api.test_glance_writes import _put as glance_put
from tests.api.test_glance_writes import _token as glance_token
from tests.api.test_glance_writes import qcow2_bytes
from tests.api.test_nova import MISSING, _action, _fault, _nova
from tests.api.test_nova_server_writes import _active, _created
from tests.conftest import Api
from tests.support import poll


def _running(api: Api) -> str:
    return str(api.demo["servers"]["running"])


def _meta(api: Api, sid: str) -> dict[str, str]:
    resp = _nova(api, "GET", f"/servers/{sid}/metadata")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["metadata"])


def test_metadata_replace_merge_item_and_delete(api: Api) -> None:
    sid = _running(api)
    put = _nova(api, "PUT", f"/servers/{sid}/metadata", json={"metadata": {"a": "1", "b": "2"}})
    assert (put.status_code, put.json()) == (200, {"metadata": {"a": "1", "b": "2"}})
    post = _nova(api, "POST", f"/servers/{sid}/metadata", json={"metadata": {"b": "x", "c": "3"}})
    assert post.json() == {"metadata": {"a": "1", "b": "x", "c": "3"}}
    assert _nova(api, "POST", f"/servers/{sid}/metadata", json={"metadata": {}}).status_code == 200
    assert _meta(api, sid) == {"a": "1", "b": "x", "c": "3"}
    item = _nova(api, "GET", f"/servers/{sid}/metadata/b")
    assert (item.status_code, item.json()) == (200, {"meta": {"b": "x"}})
    put = _nova(api, "PUT", f"/servers/{sid}/metadata/d", json={"meta": {"d": "4"}})
    assert (put.status_code, put.json()) == (200, {"meta": {"d": "4"}})
    assert _nova(api, "DELETE", f"/servers/{sid}/metadata/a").status_code == 204
    assert _meta(api, sid) == {"b": "x", "c": "3", "d": "4"}
    # What the server document shows is the same metadata.
    shown = _nova(api, "GET", f"/servers/{sid}").json()["server"]["metadata"]
    assert shown == {"b": "x", "c": "3", "d": "4"}
    _fault(_nova(api, "GET", f"/servers/{sid}/metadata/a"), "itemNotFound", 404)
    _fault(_nova(api, "DELETE", f"/servers/{sid}/metadata/a"), "itemNotFound", 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/metadata/k", {"meta": {"other": "v"}}),  # body and URI disagree
        ("PUT", "/metadata/k", {"meta": {"k": "v", "l": "w"}}),
        ("PUT", "/metadata", {}),  # no metadata member
        ("POST", "/metadata", {"metadata": {"": "v"}}),  # blank key
        ("PUT", "/metadata", {"metadata": {"k": 1}}),  # not a string
        ("PUT", "/metadata", {"metadata": {"k" * 256: "v"}}),
    ],
)
def test_metadata_refusals_are_bad_requests(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    sid = _running(api)
    _fault(_nova(api, method, f"/servers/{sid}{path}", json=body), "badRequest", 400)


def test_metadata_over_the_limit_is_quota_exceeded_and_changes_nothing(api: Api) -> None:
    sid = _running(api)
    before = _meta(api, sid)
    too_many = {f"k{i}": "v" for i in range(limits.MAX_SERVER_META + 1)}
    for method in ("PUT", "POST"):
        resp = _nova(api, method, f"/servers/{sid}/metadata", json={"metadata": too_many})
        _fault(resp, "forbidden", 403)
    # A merge that would cross the limit with what the server has is refused too.
    full = {f"k{i}": "v" for i in range(limits.MAX_SERVER_META)}
    assert _nova(api, "PUT", f"/servers/{sid}/metadata", json={"metadata": full}).status_code == 200
    _fault(
        _nova(api, "PUT", f"/servers/{sid}/metadata/one-more", json={"meta": {"one-more": "v"}}),
        "forbidden",
        403,
    )
    assert _meta(api, sid) == full != before


def test_metadata_of_an_unknown_or_other_project_server_is_404(api: Api) -> None:
    other = api.demo["other_project"]["servers"]["stopped"]
    for sid in (MISSING, other):
        _fault(_nova(api, "GET", f"/servers/{sid}/metadata"), "itemNotFound", 404)
        put = _nova(api, "PUT", f"/servers/{sid}/metadata", json={"metadata": {"a": "b"}})
        _fault(put, "itemNotFound", 404)
        _fault(_nova(api, "DELETE", f"/servers/{sid}/metadata/a"), "itemNotFound", 404)


def test_metadata_is_refused_on_a_locked_server(api: Api) -> None:
    sid = _running(api)
    assert _action(api, sid, {"lock": None}).status_code == 202
    put = _nova(api, "PUT", f"/servers/{sid}/metadata", json={"metadata": {"a": "b"}})
    _fault(put, "conflictingRequest", 409)
    assert _action(api, sid, {"unlock": None}).status_code == 202
    put = _nova(api, "PUT", f"/servers/{sid}/metadata", json={"metadata": {"a": "b"}})
    assert put.status_code == 200, put.text


def test_tags_from_2_26(api: Api) -> None:
    sid = _running(api)
    base = f"/servers/{sid}/tags"
    _fault(_nova(api, "GET", base, "2.25"), "itemNotFound", 404)
    assert _nova(api, "GET", base, "2.26").json() == {"tags": []}
    added = _nova(api, "PUT", f"{base}/blue", "2.26")
    assert added.status_code == 201 and added.headers["location"].endswith(f"{base}/blue")
    assert _nova(api, "PUT", f"{base}/blue", "2.26").status_code == 204  # already there
    assert _nova(api, "GET", f"{base}/blue", "2.26").status_code == 204
    _fault(_nova(api, "GET", f"{base}/red", "2.26"), "itemNotFound", 404)
    replaced = _nova(api, "PUT", base, "2.26", json={"tags": ["x", "y", "x"]})
    assert replaced.status_code == 200 and replaced.json() == {"tags": ["x", "y"]}
    shown = _nova(api, "GET", f"/servers/{sid}", "2.26").json()["server"]
    assert shown["tags"] == ["x", "y"]
    assert "tags" not in _nova(api, "GET", f"/servers/{sid}", "2.25").json()["server"]
    assert _nova(api, "DELETE", f"{base}/x", "2.26").status_code == 204
    _fault(_nova(api, "DELETE", f"{base}/x", "2.26"), "itemNotFound", 404)
    assert _nova(api, "DELETE", base, "2.26").status_code == 204
    assert _nova(api, "GET", base, "2.26").json() == {"tags": []}


@pytest.mark.parametrize(
    "tags", [["a,b"], ["t" * 61], [""], [f"t{i}" for i in range(51)], "notalist"]
)
def test_bad_tags_are_refused(api: Api, tags: Any) -> None:
    sid = _running(api)
    resp = _nova(api, "PUT", f"/servers/{sid}/tags", "2.26", json={"tags": tags})
    _fault(resp, "badRequest", 400)
    assert _nova(api, "GET", f"/servers/{sid}/tags", "2.26").json() == {"tags": []}


def test_ips_list_the_server_addresses_by_network(api: Api) -> None:
    sid = _created(api, networks="auto")["id"]  # a fixed IP in the project's first subnet
    _active(api, sid)
    server = _nova(api, "GET", f"/servers/{sid}").json()["server"]
    ips = _nova(api, "GET", f"/servers/{sid}/ips")
    assert ips.status_code == 200, ips.text
    addresses = ips.json()["addresses"]
    assert addresses and set(addresses) == set(server["addresses"])
    for network, addrs in addresses.items():
        assert addrs == [
            {"version": a["version"], "addr": a["addr"]} for a in server["addresses"][network]
        ]
        assert _nova(api, "GET", f"/servers/{sid}/ips/{network}").json() == {network: addrs}
    _fault(_nova(api, "GET", f"/servers/{sid}/ips/no-such-net"), "itemNotFound", 404)
    _fault(_nova(api, "GET", f"/servers/{MISSING}/ips"), "itemNotFound", 404)


def test_server_password_is_empty_and_deletable(api: Api) -> None:
    sid = _running(api)
    shown = _nova(api, "GET", f"/servers/{sid}/os-server-password")
    assert (shown.status_code, shown.json()) == (200, {"password": ""})
    assert _nova(api, "DELETE", f"/servers/{sid}/os-server-password").status_code == 204
    _fault(_nova(api, "GET", f"/servers/{MISSING}/os-server-password"), "itemNotFound", 404)
    _fault(_nova(api, "DELETE", f"/servers/{MISSING}/os-server-password"), "itemNotFound", 404)


def test_force_delete_restore_and_a_deleted_server_actions(api: Api) -> None:
    for action in ("forceDelete", "restore"):
        _fault(_action(api, MISSING, {action: None}), "itemNotFound", 404)
    sid = _created(api)["id"]
    _active(api, sid)
    _fault(_action(api, sid, {"restore": None}), "conflictingRequest", 409)
    assert _action(api, sid, {"forceDelete": None}).status_code == 202
    poll(lambda: _nova(api, "GET", f"/servers/{sid}").status_code, until=lambda code: code == 404)
    # From 2.21 a deleted server's actions are still listed (below, 404 as in Nova).
    _fault(_nova(api, "GET", f"/servers/{sid}/os-instance-actions", "2.20"), "itemNotFound", 404)
    resp = _nova(api, "GET", f"/servers/{sid}/os-instance-actions", "2.21")
    assert resp.status_code == 200, resp.text
    actions = resp.json()["instanceActions"]
    assert [a["action"] for a in actions] == ["delete", "create"]
    assert {a["user_id"] for a in actions} == {api.demo["user_id"]}
    shown = _nova(
        api, "GET", f"/servers/{sid}/os-instance-actions/{actions[0]['request_id']}", "2.21"
    )
    assert shown.json()["instanceAction"]["instance_uuid"] == sid


def test_update_answers_as_nova_below_2_75_and_keeps_canonical_addresses(api: Api) -> None:
    sid = _running(api)
    resp = _nova(
        api,
        "PUT",
        f"/servers/{sid}",
        "2.60",
        json={"server": {"accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"}},
    )
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert server["accessIPv6"] == "::babe:dc0c:1602"
    for only_from_2_75 in ("OS-EXT-STS:vm_state", "key_name", "security_groups", "config_drive"):
        assert only_from_2_75 not in server
    assert all(
        set(a) == {"version", "addr"} for addrs in server["addresses"].values() for a in addrs
    )
    assert _nova(api, "GET", f"/servers/{sid}").json()["server"]["accessIPv6"] == "::babe:dc0c:1602"


def test_a_request_that_starts_a_job_answers_its_action_request_id(api: Api) -> None:
    """Tempest finds the create's action by the create response's x-openstack-request-id."""
    resp = _nova(
        api,
        "POST",
        "/servers",
        "2.60",
        json={
            "server": {
                "name": "rid",
                "imageRef": api.demo["images"]["cloudinit"],
                "flavorRef": "s3.small.1",
                "networks": "none",
            }
        },
    )
    assert resp.status_code == 202, resp.text
    rid = resp.headers["x-openstack-request-id"]
    assert rid.startswith("req-") and resp.headers["x-compute-request-id"] == rid
    sid = resp.json()["server"]["id"]
    action = _nova(api, "GET", f"/servers/{sid}/os-instance-actions/{rid}")
    assert action.status_code == 200, action.text
    assert action.json()["instanceAction"]["action"] == "create"
    assert action.json()["instanceAction"]["request_id"] == rid
    _active(api, sid)
    stop = _action(api, sid, {"os-stop": None})
    listed = _nova(api, "GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert listed[0]["action"] == "stop"
    assert listed[0]["request_id"] == stop.headers["x-openstack-request-id"]


def test_a_flavor_below_the_image_min_ram_is_refused(api: Api) -> None:
    flavor = _nova(api, "GET", "/flavors/s3.small.1").json()["flavor"]
    image = glance_create(api, min_ram=flavor["ram"] + 1)["id"]
    uploaded = glance_put(api, image, qcow2_bytes(), glance_token(api))
    assert uploaded.status_code == 204, uploaded.text
    body = {"name": "low-ram", "imageRef": image, "flavorRef": "s3.small.1", "networks": "none"}
    resp = _nova(api, "POST", "/servers", "2.60", json={"server": body})
    assert "min_ram" in _fault(resp, "badRequest", 400)


def test_rebuild_answer_names_the_new_image_without_show_only_fields(api: Api) -> None:
    sid, alt = api.demo["servers"]["stopped"], api.demo["images"]["alt"]
    resp = _action(api, sid, {"rebuild": {"imageRef": alt, "adminPass": "plainpassword"}})
    assert resp.status_code == 202, resp.text
    server = resp.json()["server"]
    assert server["image"]["id"] == alt and server["image"]["links"][0]["href"].endswith(alt)
    assert "host_status" not in server and server["adminPass"] == "plainpassword"
    done = poll(
        lambda: _nova(api, "GET", f"/servers/{sid}", "2.60").json()["server"],
        until=lambda s: s["status"] == "SHUTOFF" and not s["OS-EXT-STS:task_state"],
    )
    # Nova shows progress only while ACTIVE, building or rebuilding: not SHUTOFF.
    assert done["image"]["id"] == alt and "progress" not in done
