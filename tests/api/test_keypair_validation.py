"""Key pair names match as a whole; an imported public key is exactly one key of a supported
type. Refused input is never stored."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conftest import Api


def _ed25519() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _names(api: Api) -> list[str]:
    resp = api.client.get(f"/v2.1/{api.project}/os-keypairs")
    return [k["keypair"]["name"] for k in resp.json()["keypairs"]]


@pytest.mark.parametrize("name", ["adv-key\n", "adv-key\r\n", "\nadv-key", "a/b", "", "x" * 65])
def test_bad_names_are_refused_and_not_stored(api: Api, name: str) -> None:
    resp = api.client.post(f"/v2.1/{api.project}/os-keypairs", json={"keypair": {"name": name}})
    assert resp.status_code == 400, resp.text
    assert "name" in resp.text
    assert name not in _names(api) and "adv-key" not in _names(api)


def test_public_keys_with_more_than_one_key_are_refused(api: Api) -> None:
    first, second = _ed25519(), api.demo["keypair"]["public_key"]
    rsa_blob = second.split()[1]
    cases = {
        "two lines": f"{first}\n{second}",
        "two lines, CRLF": f"{first}\r\n{second}\r\n",
        "unsupported type": f"ssh-dss {rsa_blob}",
        "type does not match the data": f"ssh-ed25519 {rsa_blob}",
        "not base64": "ssh-ed25519 AAAA!!!!",
        "key material only": rsa_blob,
        "control character in the comment": f"{first} me\x1b[2J",
        "garbage blob": "ssh-rsa "
        + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + b"x" * 8).decode(),
    }
    for i, (what, public_key) in enumerate(cases.items()):
        resp = api.client.post(
            f"/v2.1/{api.project}/os-keypairs",
            json={"keypair": {"name": f"k{i}", "public_key": public_key}},
        )
        assert resp.status_code == 400, (what, resp.text)
        assert "public_key" in resp.text, what
    assert [n for n in _names(api) if n.startswith("k")] == []


def test_one_key_with_a_comment_and_a_trailing_newline_is_accepted(api: Api) -> None:
    key = _ed25519() + " alice@laptop (work)\n"
    resp = api.client.post(
        f"/v2.1/{api.project}/os-keypairs", json={"keypair": {"name": "alice", "public_key": key}}
    )
    assert resp.status_code == 200, resp.text
    shown = api.client.get(f"/v2.1/{api.project}/os-keypairs/alice").json()["keypair"]
    assert shown["public_key"] == key.strip()
