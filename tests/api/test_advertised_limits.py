"""Every limit that ``limits`` or the docs name, crossed at each front door (ECS create, Nova
rebuild, Nova key pairs; the console's create goes through the same service as the ECS route):
refused with the documented code in the path's envelope, nothing created."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ecslite.domain import limits
from tests.api.test_create_rules import body, counts, create
from tests.conftest import Api


def _ecs_refusal(resp: Any, code: str, status: int = 400) -> str:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code, err
    return str(err["message"])


def test_limits_advertises_the_enforced_values(api: Api) -> None:
    resp = api.client.get(f"/v1/{api.project}/cloudservers/limits")
    assert resp.status_code == 200, resp.text
    absolute = resp.json()["absolute"]
    for name, value in limits.ADVERTISED.items():
        assert absolute[name] == value


@pytest.mark.parametrize(
    "over",
    [
        {"metadata": {f"k{i}": "v" for i in range(limits.MAX_SERVER_META + 1)}},
        {"metadata": {f"k{i}": "v" for i in range(1000)}},
        {"metadata": {"k" * 300: "v"}},
        {"metadata": {"k": "v" * 300}},
        {"user_data": base64.b64encode(b"#!/bin/sh\n" + b"x" * 33 * 1024).decode()},
        {"count": 101},
    ],
    ids=["11 metadata", "1000 metadata", "300-char key", "300-char value", "user_data", "count"],
)
def test_a_create_over_a_limit_is_refused_and_creates_nothing(
    api: Api, over: dict[str, Any]
) -> None:
    before = counts(api)
    _ecs_refusal(create(api, body(api, **over)), "Ecs.0005")
    assert counts(api) == before


def test_a_create_with_a_name_too_long_is_refused(api: Api) -> None:
    _ecs_refusal(create(api, body(api, name="n" * 65)), "Ecs.0914")


def test_a_create_at_the_metadata_limit_is_accepted(api: Api) -> None:
    meta = {f"k{i}": "v" for i in range(limits.MAX_SERVER_META)}
    resp = create(api, body(api, metadata=meta))
    assert resp.status_code == 200, resp.text


def _rebuild(api: Api, metadata: dict[str, str]) -> Any:
    d = api.demo
    payload = {"rebuild": {"imageRef": d["images"]["cloudinit"], "metadata": metadata}}
    sid = d["servers"]["stopped"]
    return api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action",
        json=payload,
        headers={"OpenStack-API-Version": "compute 2.60"},
    )


def test_a_nova_rebuild_over_the_metadata_limit_is_refused(api: Api) -> None:
    # Too many items is Nova's "Quota exceeded for metadata items" (403); a long key is 400.
    resp = _rebuild(api, {f"k{i}": "v" for i in range(limits.MAX_SERVER_META + 1)})
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["code"] == 403
    resp = _rebuild(api, {"k" * 300: "v"})
    assert resp.status_code == 400, resp.text


def test_key_pairs_per_user_are_capped(api: Api) -> None:
    base = f"/v2.1/{api.project}/os-keypairs"
    have = len(api.client.get(base).json()["keypairs"])
    public = api.demo["keypair"]["public_key"]
    for i in range(limits.MAX_KEYPAIRS_PER_USER - have):
        resp = api.client.post(base, json={"keypair": {"name": f"k{i}", "public_key": public}})
        assert resp.status_code == 200, resp.text
    resp = api.client.post(base, json={"keypair": {"name": "one-more", "public_key": public}})
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["code"] == 403
