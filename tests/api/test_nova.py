"""Nova's compute API and Glance's image API as ecslite serves them: microversions, paging,
shapes, the rebuild's Nova semantics and the errors in Nova's envelope."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ecslite.domain.clock import new_uuid
from ecslite.domain.codec import encode
from ecslite.store.seeding import SeedDocument, apply_seed
from tests.conftest import Api
from tests.support import poll

MISSING = "00000000-0000-0000-0000-000000000000"


def _nova(api: Api, method: str, path: str, version: str | None = None, **kw: Any) -> Any:
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return api.client.request(method, f"/v2.1/{api.project}{path}", headers=headers, **kw)


def _action(api: Api, sid: str, body: dict[str, Any], version: str = "2.60") -> Any:
    return _nova(api, "POST", f"/servers/{sid}/action", version, json=body)


def _fault(resp: Any, name: str, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == [name] and body[name]["code"] == status, body
    return str(body[name]["message"])


def _server(api: Api, sid: str, version: str = "2.60") -> dict[str, Any]:
    resp = _nova(api, "GET", f"/servers/{sid}", version)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["server"])


def _settled(api: Api, sid: str) -> dict[str, Any]:
    return dict(poll(lambda: _server(api, sid), until=lambda s: s["OS-EXT-STS:task_state"] is None))


def _boot_config(api: Api, sid: str) -> dict[str, Any]:
    container = api.client.app.state.container  # type: ignore[attr-defined]
    with container.uow_factory(write=False) as uow:
        boot = uow.servers.boot_config(sid)
        return encode(boot) if boot is not None else {}


def test_microversions_are_negotiated_and_echoed(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    plain = _nova(api, "GET", f"/servers/{sid}")
    assert plain.headers["OpenStack-API-Version"] == "compute 2.1"
    assert plain.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert set(plain.json()["server"]["flavor"]) == {"id", "links"}
    latest = _nova(api, "GET", f"/servers/{sid}", "latest")
    assert latest.headers["OpenStack-API-Version"] == "compute 2.60"
    assert latest.json()["server"]["flavor"]["original_name"] == "s3.small.1"
    legacy = api.client.get(
        f"/v2.1/{api.project}/servers/{sid}", headers={"X-OpenStack-Nova-API-Version": "2.47"}
    )
    assert legacy.headers["X-OpenStack-Nova-API-Version"] == "2.47"
    _fault(_nova(api, "GET", "/servers", "2.61"), "notAcceptable", 406)
    _fault(_nova(api, "GET", "/servers", "two"), "badRequest", 400)


def test_server_shape_and_missing_server(api: Api) -> None:
    d = api.demo
    s = _server(api, d["servers"]["running"])
    assert s["status"] == "ACTIVE" and s["OS-EXT-STS:vm_state"] == "active"
    assert s["OS-EXT-STS:power_state"] == 1 and s["OS-EXT-STS:task_state"] is None
    assert s["image"]["id"] == d["images"]["cloudinit"] and s["tenant_id"] == api.project
    assert {link["rel"] for link in s["links"]} == {"self", "bookmark"}
    assert s["addresses"] == {} and "key_name" in s
    assert _fault(_nova(api, "GET", f"/servers/{MISSING}"), "itemNotFound", 404)
    other = d["other_project"]["servers"]["stopped"]
    _fault(_nova(api, "GET", f"/servers/{other}"), "itemNotFound", 404)


def test_listing_pages_with_limit_and_marker(api: Api) -> None:
    everything = _nova(api, "GET", "/servers/detail").json()["servers"]
    assert len(everything) == 5 and "servers_links" not in _nova(api, "GET", "/servers").json()
    seen: list[str] = []
    url = "/servers?limit=2"
    while True:
        page = _nova(api, "GET", url).json()
        seen += [s["id"] for s in page["servers"]]
        links = page.get("servers_links")
        if not links:
            break
        url = "/servers?" + links[0]["href"].split("?", 1)[1]
    assert seen == [s["id"] for s in everything]
    _fault(_nova(api, "GET", f"/servers?marker={MISSING}"), "badRequest", 400)
    shutoff = _nova(api, "GET", "/servers/detail?status=SHUTOFF").json()["servers"]
    assert {s["status"] for s in shutoff} == {"SHUTOFF"} and len(shutoff) == 4
    named = _nova(api, "GET", "/servers?name=demo-running").json()["servers"]
    assert [s["id"] for s in named] == [api.demo["servers"]["running"]]


def test_stop_and_start_follow_nova_rules(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    _fault(_action(api, sid, {"os-stop": None}), "conflictingRequest", 409)
    resp = _action(api, sid, {"os-start": None})
    assert resp.status_code == 202 and resp.headers["OpenStack-API-Version"] == "compute 2.60"
    assert _settled(api, sid)["status"] == "ACTIVE"
    _fault(_action(api, sid, {"os-start": None}), "conflictingRequest", 409)
    _fault(_action(api, MISSING, {"os-start": None}), "itemNotFound", 404)
    _fault(_action(api, sid, {"reboot": {"type": "GENTLE"}}), "badRequest", 400)
    _fault(_action(api, MISSING, {"reboot": {"type": "SOFT"}}), "itemNotFound", 404)
    _fault(_action(api, sid, {"os-stop": None, "os-start": None}), "badRequest", 400)


def test_rebuild_of_a_shutoff_server_applies_the_key_and_stays_shutoff(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]
    body = {
        "rebuild": {
            "imageRef": d["images"]["cloudinit"],
            "key_name": d["keypair"]["name"],
            "name": "rebuilt",
            "metadata": {"role": "web"},
        }
    }
    resp = _action(api, sid, body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["server"]["status"] == "REBUILD"
    s = _settled(api, sid)
    assert s["status"] == "SHUTOFF" and s["key_name"] == d["keypair"]["name"]
    assert s["name"] == "rebuilt" and s["metadata"] == {"role": "web"}
    assert _boot_config(api, sid)["public_keys"] == [d["keypair"]["public_key"]]


def test_rebuild_without_credentials_keeps_key_and_user_data(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["running"]
    user_data = base64.b64encode(b"#!/bin/sh\necho hello\n").decode()
    first = {
        "imageRef": d["images"]["cloudinit"],
        "key_name": d["keypair"]["name"],
        "user_data": user_data,
    }
    assert _action(api, sid, {"rebuild": first}).status_code == 202
    assert _settled(api, sid)["status"] == "ACTIVE"
    resp = _action(api, sid, {"rebuild": {"imageRef": d["images"]["cloudinit"]}})
    assert resp.status_code == 202, resp.text
    s = _settled(api, sid)
    assert s["status"] == "ACTIVE" and s["key_name"] == d["keypair"]["name"]
    boot = _boot_config(api, sid)
    assert boot["public_keys"] == [d["keypair"]["public_key"]] and boot["user_data"] == user_data
    # 2.54: key_name null removes the key; 2.57: user_data null removes the user data.
    resp = _action(
        api,
        sid,
        {"rebuild": {"imageRef": d["images"]["cloudinit"], "key_name": None, "user_data": None}},
    )
    assert resp.status_code == 202, resp.text
    s = _settled(api, sid)
    assert s["key_name"] is None
    assert _boot_config(api, sid)["public_keys"] == []
    assert _boot_config(api, sid)["user_data"] is None


def test_rebuild_with_another_image_changes_the_os(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]
    other = new_uuid()
    container = api.client.app.state.container  # type: ignore[attr-defined]
    apply_seed(
        SeedDocument.model_validate({"images": [{"id": other, "name": "Ubuntu 24.04"}]}),
        uow_factory=container.uow_factory,
        box=api.client.app.state.secret_box,  # type: ignore[attr-defined]
        clock=container.clock,
    )
    resp = _action(api, sid, {"rebuild": {"imageRef": f"http://x/images/{other}"}})
    assert resp.status_code == 202, resp.text
    s = _settled(api, sid)
    assert s["image"]["id"] == other and s["status"] == "SHUTOFF"
    assert api.server(sid)["metadata"]["image_name"] == "Ubuntu 24.04"


@pytest.mark.parametrize(
    ("version", "extra", "fault", "status"),
    [
        ("2.53", {"key_name": "demo-key"}, "badRequest", 400),
        ("2.56", {"user_data": "aGk="}, "badRequest", 400),
        ("2.60", {"key_name": "no-such-key"}, "badRequest", 400),
        ("2.60", {"adminPass": ""}, "badRequest", 400),
        ("2.60", {"user_data": "not base64!"}, "badRequest", 400),
        ("2.60", {"imageRef": MISSING}, "badRequest", 400),
        ("2.60", {"unknown": 1}, "badRequest", 400),
    ],
)
def test_rebuild_refusals(
    api: Api, version: str, extra: dict[str, Any], fault: str, status: int
) -> None:
    d = api.demo
    body = {"imageRef": d["images"]["cloudinit"], **extra}
    _fault(_action(api, d["servers"]["stopped"], {"rebuild": body}, version), fault, status)
    # Nothing started: the server is still as it was.
    assert _server(api, d["servers"]["stopped"])["status"] == "SHUTOFF"


def test_rebuild_refusals_that_depend_on_the_server(api: Api) -> None:
    d = api.demo
    image = d["images"]["cloudinit"]
    _fault(_action(api, MISSING, {"rebuild": {"imageRef": image}}), "itemNotFound", 404)
    no_ci = {"imageRef": d["images"]["no_cloudinit"]}
    _fault(_action(api, d["servers"]["stopped"], {"rebuild": no_ci}), "badRequest", 400)
    inactive = {"imageRef": d["images"]["inactive"]}
    _fault(_action(api, d["servers"]["stopped"], {"rebuild": inactive}), "badRequest", 400)


def test_a_busy_server_refuses_a_second_rebuild(slow_api: Api) -> None:
    d = slow_api.demo
    sid = d["servers"]["stopped"]
    body = {"rebuild": {"imageRef": d["images"]["cloudinit"]}}
    assert _action(slow_api, sid, body).status_code == 202
    _fault(_action(slow_api, sid, body), "conflictingRequest", 409)
    _fault(_action(slow_api, sid, {"os-start": None}), "conflictingRequest", 409)
    assert _settled(slow_api, sid)["status"] == "SHUTOFF"


def test_failed_final_stop_leaves_the_rebuilt_server_running(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]
    api.inject("stopRebuiltServer", sid, error_code="Ecs.0002", message="power button stuck")
    resp = _action(api, sid, {"rebuild": {"imageRef": d["images"]["cloudinit"]}})
    assert resp.status_code == 202
    s = _settled(api, sid)
    # The new system is verified and kept; only the stop failed, as the job says.
    assert s["status"] == "ACTIVE"


def test_glance_lists_and_shows_images(api: Api) -> None:
    d = api.demo
    listed = api.client.get("/image/v2/images")
    assert listed.status_code == 200
    images = {i["id"]: i for i in listed.json()["images"]}
    assert set(images) == set(d["images"].values())
    assert images[d["images"]["inactive"]]["status"] == "queued"
    shown = api.client.get(f"/image/v2/images/{d['images']['cloudinit']}").json()
    assert shown["name"] == "Debian 12 (cloud-init)" and shown["visibility"] == "public"
    assert api.client.get(f"/image/v2/images/{MISSING}").status_code == 404
    page = api.client.get("/image/v2/images?limit=1").json()
    assert len(page["images"]) == 1 and page["next"].startswith("/v2/images?")
    by_name = api.client.get("/image/v2/images", params={"name": "Debian 12 (importing)"})
    assert [i["id"] for i in by_name.json()["images"]] == [d["images"]["inactive"]]


def test_keypairs_on_the_v2_paths(api: Api) -> None:
    base = f"/v2/{api.project}/os-keypairs"
    assert api.client.post(base, json={"keypair": {"name": "v2-key"}}).status_code == 200
    assert api.client.get(f"{base}/v2-key").json()["keypair"]["name"] == "v2-key"
    assert api.client.delete(f"{base}/v2-key").status_code == 202  # 2.1: Nova answers 202
    _fault(api.client.get(f"{base}/v2-key"), "itemNotFound", 404)


def test_reboot_soft_and_hard_run_the_reboot_job(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    # Only a running server reboots (a SHUTOFF one is started with os-start).
    for kind in ("SOFT", "HARD"):
        _fault(_action(api, sid, {"reboot": {"type": kind}}), "conflictingRequest", 409)
    assert _action(api, sid, {"os-start": None}).status_code == 202
    assert _settled(api, sid)["status"] == "ACTIVE"
    resp = _action(api, sid, {"reboot": {"type": "HARD"}})
    assert resp.status_code == 202 and resp.headers["OpenStack-API-Version"] == "compute 2.60"
    assert _settled(api, sid)["status"] == "ACTIVE"
    resp = _action(api, sid, {"reboot": {"type": "SOFT"}})
    assert resp.status_code == 202
    assert _server(api, sid)["status"] in ("REBOOT", "ACTIVE")
    assert _settled(api, sid)["status"] == "ACTIVE"
