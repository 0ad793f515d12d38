"""Every limit that ``limits`` or the docs name (``domain/limits.py``, docs/reliability.md),
crossed at each front door that takes the value — ECS create and reinstall, Nova create, update
and rebuild, the console's create, reinstall and key pairs, Nova's key pairs and image metadata
— refused with the documented code in the path's envelope and nothing changed; and the same
request at the limit accepted."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ecslite.domain import limits
from tests.api.test_body_shapes import console_headers
from tests.api.test_create_rules import body, counts, create
from tests.api.test_nova import _nova
from tests.conftest import Api


def _ecs_refusal(resp: Any, code: str, status: int = 400) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str)


def _nova_refusal(resp: Any, name: str = "badRequest", status: int = 400) -> None:
    assert resp.status_code == status, resp.text
    payload = resp.json()
    assert list(payload) == [name] and payload[name]["code"] == status, payload


def _nova_status(limit: str) -> tuple[str, int]:
    """Nova refuses too many metadata items as a quota (403 ``forbidden``), the rest 400."""
    return ("forbidden", 403) if limit == "metadata count" else ("badRequest", 400)


def _meta(n: int, key: int = 3, value: int = 1) -> dict[str, str]:
    return {f"{i:0{key}d}": "v" * value for i in range(n)}


def _user_data(size: int) -> str:
    """base64 of a shell script of exactly ``size`` bytes."""
    head = b"#!/bin/sh\n"
    return base64.b64encode(head + b"x" * (size - len(head))).decode()


# --- the values themselves ------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One limit: the field values just at it and just past it."""

    at: dict[str, Any]
    over: dict[str, Any]


META = limits.MAX_SERVER_META
SERVER_LIMITS: dict[str, Limit] = {
    "metadata count": Limit({"metadata": _meta(META)}, {"metadata": _meta(META + 1)}),
    "metadata key": Limit(
        {"metadata": _meta(1, key=limits.META_KEY_MAX)},
        {"metadata": _meta(1, key=limits.META_KEY_MAX + 1)},
    ),
    "metadata value": Limit(
        {"metadata": _meta(1, value=limits.META_VALUE_MAX)},
        {"metadata": _meta(1, value=limits.META_VALUE_MAX + 1)},
    ),
    "user_data": Limit(
        {"user_data": _user_data(limits.USER_DATA_MAX_BYTES)},
        {"user_data": _user_data(limits.USER_DATA_MAX_BYTES + 1)},
    ),
}


def test_limits_advertises_the_enforced_values(api: Api) -> None:
    for url in (f"/v1/{api.project}/cloudservers/limits", f"/v2.1/{api.project}/limits"):
        resp = api.client.get(url)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        absolute = doc["absolute"] if "absolute" in doc else doc["limits"]["absolute"]
        for name, value in limits.ADVERTISED.items():
            assert absolute[name] == value, (url, name)


# --- ECS create -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SERVER_LIMITS, "count"])
def test_ecs_create_over_a_limit_is_refused_and_creates_nothing(api: Api, name: str) -> None:
    over = {"count": limits.MAX_COUNT + 1} if name == "count" else SERVER_LIMITS[name].over
    before = counts(api)
    _ecs_refusal(create(api, body(api, **over)), "Ecs.0005")
    assert counts(api) == before


@pytest.mark.parametrize("name", SERVER_LIMITS)
def test_ecs_create_at_a_limit_is_accepted(api: Api, name: str) -> None:
    resp = create(api, body(api, **SERVER_LIMITS[name].at))
    assert resp.status_code == 200, resp.text


def test_ecs_create_names(api: Api) -> None:
    _ecs_refusal(create(api, body(api, name="n" * (limits.SERVER_NAME_MAX + 1))), "Ecs.0914")
    resp = create(api, body(api, name="n" * limits.SERVER_NAME_MAX))
    assert resp.status_code == 200, resp.text


def test_ecs_create_count_at_the_limit_passes_the_count_rule(api: Api) -> None:
    """100 servers would cross the demo project's instance quota: what refuses them must be the
    quota (Ecs.0001), not the count rule."""
    resp = create(api, body(api, count=limits.MAX_COUNT, data_volumes=None))
    assert resp.status_code == 200 or resp.json()["error"]["code"] == "Ecs.0001", resp.text


def test_nova_create_count_at_the_limit_passes_the_count_rule(api: Api) -> None:
    """As above: Nova's quota refusal (403 ``forbidden``), not the count rule's 400."""
    for field in ("min_count", "max_count"):
        resp = _nova_create(api, **{field: limits.MAX_COUNT})
        assert resp.status_code == 202 or list(resp.json()) == ["forbidden"], resp.text


# --- Nova create, update, rebuild -----------------------------------------------------------


def _nova_server(api: Api, **server: Any) -> dict[str, Any]:
    base = {
        "name": "nova-vm",
        "imageRef": api.demo["images"]["cloudinit"],
        "flavorRef": "s3.small.1",
        "networks": "none",
    }
    return {"server": base | server}


def _nova_create(api: Api, **server: Any) -> Any:
    return _nova(api, "POST", "/servers", "2.60", json=_nova_server(api, **server))


NOVA_CREATE_LIMITS = {
    **SERVER_LIMITS,
    "name": Limit(
        {"name": "n" * limits.NOVA_SERVER_NAME_MAX},
        {"name": "n" * (limits.NOVA_SERVER_NAME_MAX + 1)},
    ),
    "min_count": Limit({}, {"min_count": limits.MAX_COUNT + 1}),
    "max_count": Limit({}, {"max_count": limits.MAX_COUNT + 1}),
}


@pytest.mark.parametrize("name", NOVA_CREATE_LIMITS)
def test_nova_create_over_a_limit_is_refused_and_creates_nothing(api: Api, name: str) -> None:
    before = counts(api)
    _nova_refusal(_nova_create(api, **NOVA_CREATE_LIMITS[name].over), *_nova_status(name))
    assert counts(api) == before


@pytest.mark.parametrize("name", [n for n in NOVA_CREATE_LIMITS if "count" not in n])
def test_nova_create_at_a_limit_is_accepted(api: Api, name: str) -> None:
    resp = _nova_create(api, **NOVA_CREATE_LIMITS[name].at)
    assert resp.status_code == 202, resp.text


def test_nova_create_takes_no_personality_files(api: Api) -> None:
    """``maxPersonality`` is advertised (Nova's clients read it) but no file is injected: a
    create with any is refused rather than run without them."""
    before = counts(api)
    files = [{"path": "/etc/motd", "contents": base64.b64encode(b"hi").decode()}]
    _nova_refusal(_nova_create(api, personality=files))
    assert counts(api) == before


def test_nova_update_name(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]

    def rename(name: str) -> Any:
        return _nova(api, "PUT", f"/servers/{sid}", "2.60", json={"server": {"name": name}})

    _nova_refusal(rename("n" * (limits.NOVA_SERVER_NAME_MAX + 1)))
    assert api.server(sid)["name"] != "n" * (limits.NOVA_SERVER_NAME_MAX + 1)
    resp = rename("n" * limits.NOVA_SERVER_NAME_MAX)
    assert resp.status_code == 200, resp.text


def _rebuild(api: Api, **fields: Any) -> Any:
    payload = {"rebuild": {"imageRef": api.demo["images"]["cloudinit"], **fields}}
    sid = api.demo["servers"]["stopped"]
    return _nova(api, "POST", f"/servers/{sid}/action", "2.60", json=payload)


REBUILD_LIMITS = {
    **SERVER_LIMITS,
    "name": NOVA_CREATE_LIMITS["name"],
}


@pytest.mark.parametrize("name", REBUILD_LIMITS)
def test_nova_rebuild_over_a_limit_is_refused(api: Api, name: str) -> None:
    _nova_refusal(_rebuild(api, **REBUILD_LIMITS[name].over), *_nova_status(name))
    assert api.server(api.demo["servers"]["stopped"])["status"] == "SHUTOFF"


@pytest.mark.parametrize("name", REBUILD_LIMITS)
def test_nova_rebuild_at_a_limit_is_accepted(api: Api, name: str) -> None:
    resp = _rebuild(api, **REBUILD_LIMITS[name].at)
    assert resp.status_code == 202, resp.text


# --- reinstall: ECS and console -------------------------------------------------------------


def test_ecs_reinstall_user_data(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    for size, ok in ((limits.USER_DATA_MAX_BYTES + 1, False), (limits.USER_DATA_MAX_BYTES, True)):
        resp = api.reinstall(sid, metadata={"user_data": _user_data(size)}, adminpass="Pa55-word!x")
        if ok:
            assert resp.status_code == 200, resp.text
        else:
            _ecs_refusal(resp, "Ecs.0005")


def test_console_reinstall_user_data(api: Api) -> None:
    """The console takes the text as typed (it encodes it itself)."""
    sid = api.demo["servers"]["stopped"]
    headers = console_headers(api)
    url = f"/console/api/servers/{sid}/reinstall"
    for size, ok in ((limits.USER_DATA_MAX_BYTES + 1, False), (limits.USER_DATA_MAX_BYTES, True)):
        text = base64.b64decode(_user_data(size)).decode()
        payload = {"user_data": text, "adminpass": "Pa55-word!x"}
        resp = api.client.post(url, json=payload, headers=headers, auth=None)
        if ok:
            assert resp.status_code == 200, resp.text
        else:
            _ecs_refusal(resp, "Ecs.0005")


# --- the console's create -------------------------------------------------------------------


def test_console_create_names(api: Api) -> None:
    d = api.demo
    headers = console_headers(api)

    def make(name: str) -> Any:
        form = {
            "name": name,
            "image_id": d["images"]["cloudinit"],
            "flavor_id": "s6.small.1",
            "subnet_id": d["subnet_id"],
            "keyname": d["keypair"]["name"],
        }
        return api.client.post("/console/api/servers", json=form, headers=headers, auth=None)

    before = counts(api)
    _ecs_refusal(make("n" * (limits.SERVER_NAME_MAX + 1)), "Ecs.0914")
    assert counts(api) == before
    resp = make("n" * limits.SERVER_NAME_MAX)
    assert resp.status_code == 200, resp.text


# --- key pairs: per user, and their names, at every door ------------------------------------


def _keypair_doors(api: Api) -> dict[str, Callable[[str], Any]]:
    public = api.demo["keypair"]["public_key"]
    headers = console_headers(api)

    def nova(version: str) -> Callable[[str], Any]:
        url = f"/{version}/{api.project}/os-keypairs"
        return lambda name: api.client.post(
            url, json={"keypair": {"name": name, "public_key": public}}
        )

    def console(name: str) -> Any:
        payload = {"name": name, "public_key": public}
        return api.client.post("/console/api/keypairs", json=payload, headers=headers, auth=None)

    return {"v2.1": nova("v2.1"), "v2": nova("v2"), "console": console}


def _refused_keypair(door: str, resp: Any, status: int) -> None:
    if door == "console":
        _ecs_refusal(resp, "Ecs.0005", status)
    else:
        _nova_refusal(resp, "forbidden" if status == 403 else "badRequest", status)


@pytest.mark.parametrize("door", ["v2.1", "v2", "console"])
def test_key_pairs_per_user_are_capped(api: Api, door: str) -> None:
    add = _keypair_doors(api)[door]
    have = len(api.client.get(f"/v2.1/{api.project}/os-keypairs").json()["keypairs"])
    for i in range(limits.MAX_KEYPAIRS_PER_USER - have):
        resp = add(f"k{i}")
        assert resp.status_code in (200, 201), resp.text
    _refused_keypair(door, add("one-more"), 403)
    listed = api.client.get(f"/v2.1/{api.project}/os-keypairs").json()["keypairs"]
    assert len(listed) == limits.MAX_KEYPAIRS_PER_USER


@pytest.mark.parametrize("door", ["v2.1", "v2", "console"])
def test_key_pair_names(api: Api, door: str) -> None:
    add = _keypair_doors(api)[door]
    _refused_keypair(door, add("k" * (limits.KEYPAIR_NAME_MAX + 1)), 400)
    resp = add("k" * limits.KEYPAIR_NAME_MAX)
    assert resp.status_code in (200, 201), resp.text


# --- image metadata (Nova's image proxy) ----------------------------------------------------


def _own_image(api: Api) -> str:
    resp = api.client.post(
        "/image/v2/images",
        json={"name": "mine", "disk_format": "qcow2", "container_format": "bare"},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_nova_image_metadata_limits(api: Api) -> None:
    image = _own_image(api)
    url = f"/images/{image}/metadata"

    def put(items: dict[str, str]) -> Any:
        return _nova(api, "PUT", url, "2.35", json={"metadata": items})

    key, value = limits.META_KEY_MAX, limits.META_VALUE_MAX
    _nova_refusal(put(_meta(1, key=key + 1)))
    _nova_refusal(put(_meta(1, value=value + 1)))
    resp = put(_meta(1, key=key, value=value))
    assert resp.status_code == 200, resp.text
    resp = put(_meta(limits.MAX_IMAGE_META))
    assert resp.status_code == 200, resp.text
    over = _nova(api, "POST", url, "2.35", json={"metadata": {"one-more": "v"}})
    assert over.status_code == 413, over.text  # Glance's property quota, the same store
    (fault,) = over.json().values()
    assert fault["code"] == over.status_code
    shown = _nova(api, "GET", url, "2.35").json()["metadata"]
    assert len(shown) == limits.MAX_IMAGE_META and "one-more" not in shown
