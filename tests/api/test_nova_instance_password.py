"""``nova_instance_password`` (nova.conf's ``[api] enable_instance_password``): on by default,
Nova's door generates a password for a create with neither ``adminPass`` nor ``key_name`` and
answers what it applied; off, no create or rebuild answer carries ``adminPass``, a given
password is still applied to the guest and none is generated. The ECS door does not change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from passlib.hash import sha512_crypt

from tests.api.test_create_rules import body as ecs_body
from tests.api.test_create_rules import create as ecs_create
from tests.api.test_nova import _action, _boot_config, _nova, _settled
from tests.api.test_nova_server_writes import _body as nova_body
from tests.conftest import Api, SeededTemplate, _make_api


@pytest.fixture
def quiet_api(tmp_path: Path, seeded_template: SeededTemplate) -> Iterator[Api]:
    """The app with Nova's instance passwords off."""
    yield from _make_api(tmp_path, seeded_template, nova_instance_password=False)


def _create(api: Api, **server: Any) -> dict[str, Any]:
    resp = _nova(api, "POST", "/servers", "2.60", json=nova_body(api, **server))
    assert resp.status_code == 202, resp.text
    return dict(resp.json()["server"])


def _password_hash(api: Api, sid: str) -> str | None:
    value = _boot_config(api, sid).get("password_hash")
    return str(value) if value is not None else None


def test_default_generates_and_answers_the_password(api: Api) -> None:
    created = _create(api)
    assert sha512_crypt.verify(created["adminPass"], _password_hash(api, created["id"]))
    given = _create(api, adminPass="Given-Pass-1")
    assert given["adminPass"] == "Given-Pass-1"
    _settled(api, given["id"])
    resp = _action(
        api,
        given["id"],
        {"rebuild": {"imageRef": api.demo["images"]["cloudinit"], "adminPass": "Rebuilt-Pass-2"}},
    )
    assert resp.status_code == 202 and resp.json()["server"]["adminPass"] == "Rebuilt-Pass-2"


def test_off_never_answers_a_password_and_generates_none(quiet_api: Api) -> None:
    api = quiet_api
    bare = _create(api)
    assert "adminPass" not in bare
    # Nobody could learn a generated password: there is none.
    assert _password_hash(api, bare["id"]) is None
    keyed = _create(api, key_name=api.demo["keypair"]["name"])
    assert "adminPass" not in keyed and _password_hash(api, keyed["id"]) is None


def test_off_still_applies_a_given_password_on_create_and_rebuild(quiet_api: Api) -> None:
    api = quiet_api
    created = _create(api, adminPass="Given-Pass-1")
    assert "adminPass" not in created
    sid = created["id"]
    assert sha512_crypt.verify("Given-Pass-1", _password_hash(api, sid))
    assert _settled(api, sid)["status"] == "ACTIVE"
    image = api.demo["images"]["cloudinit"]
    resp = _action(api, sid, {"rebuild": {"imageRef": image, "adminPass": "Rebuilt-Pass-2"}})
    assert resp.status_code == 202, resp.text
    assert "adminPass" not in resp.json()["server"]
    _settled(api, sid)
    assert sha512_crypt.verify("Rebuilt-Pass-2", _password_hash(api, sid))
    # A rebuild without a password keeps the server's credentials and answers none either.
    resp = _action(api, sid, {"rebuild": {"imageRef": image}})
    assert resp.status_code == 202 and "adminPass" not in resp.json()["server"]


def test_off_leaves_the_ecs_create_alone(quiet_api: Api) -> None:
    """The ECS door keeps its own rules: the password it is given is applied, as always."""
    payload = ecs_body(quiet_api, key_name=None, adminPass="Ecs-Pass-2026!", data_volumes=None)
    resp = ecs_create(quiet_api, payload)
    assert resp.status_code == 200, resp.text
    assert "adminPass" not in resp.text
    sid = resp.json()["serverIds"][0]
    assert sha512_crypt.verify("Ecs-Pass-2026!", _password_hash(quiet_api, sid))
