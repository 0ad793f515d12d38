"""Missing or bad credentials are refused with 401 before any route runs; every refusal looks
the same, so a client cannot tell which part of a signature was wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ecslite.auth import signature as sig
from tests.auth.conftest import Service, Signed, error_of, password_login, sdk_sign

pytestmark = pytest.mark.process  # a real `ecslite serve` (tests/auth/conftest.py)


@pytest.fixture(scope="module")
def refusal(service: Service, demo: dict[str, Any]) -> dict[str, Any]:
    """The one error body every refusal must carry (taken from a request with no credentials)."""
    resp = httpx.get(f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/detail")
    assert resp.status_code == 401
    body = error_of(resp)
    assert body["code"] == "Common.0013"
    return body


def _sign(service: Service, demo: dict[str, Any], **kw: Any) -> Signed:
    kw.setdefault("ak", demo["access_key"])
    kw.setdefault("sk", demo["secret_key"])
    kw.setdefault("project_id", demo["project_id"])
    kw.setdefault("method", "GET")
    kw.setdefault("path", f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['stopped']}")
    return sdk_sign(service.endpoint, **kw)


def _refused(resp: httpx.Response, refusal: dict[str, Any]) -> None:
    assert resp.status_code == 401, resp.text
    assert error_of(resp) == refusal
    assert "WWW-Authenticate" in resp.headers


def _reinstall(demo: dict[str, Any], password: str = "Never-Served-1") -> dict[str, Any]:
    return {"os-reinstall": {"adminpass": password}}


def _server_status(service: Service, demo: dict[str, Any], sid: str) -> dict[str, Any]:
    resp = _sign(service, demo, path=f"/v1/{demo['project_id']}/cloudservers/{sid}").send(
        service.endpoint
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["server"])


def test_a_correctly_signed_request_is_served(service: Service, demo: dict[str, Any]) -> None:
    # The control for every case below: same helper, nothing changed.
    assert _sign(service, demo).send(service.endpoint).status_code == 200


def test_missing_credentials(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    p = demo["project_id"]
    sid = demo["servers"]["stopped"]
    _refused(
        httpx.post(
            f"{service.endpoint}/v2/{p}/cloudservers/{sid}/reinstallos", json=_reinstall(demo)
        ),
        refusal,
    )
    _refused(httpx.get(f"{service.endpoint}/v1/{p}/jobs/x"), refusal)
    _refused(httpx.get(f"{service.endpoint}/no/such/route"), refusal)


def test_wrong_secret_key(service: Service, demo: dict[str, Any], refusal: dict[str, Any]) -> None:
    _refused(_sign(service, demo, sk=demo["secret_key"] + "x").send(service.endpoint), refusal)


def test_another_users_secret_key(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    signed = _sign(service, demo, sk=demo["other_project"]["secret_key"])
    _refused(signed.send(service.endpoint), refusal)


def test_unknown_access_key(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    _refused(_sign(service, demo, ak="AKNOTKNOWN000000").send(service.endpoint), refusal)


@pytest.mark.parametrize("minutes", [-16, 16, -24 * 60])
def test_stale_or_future_sdk_date(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any], minutes: int
) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    _refused(_sign(service, demo, sdk_date=when).send(service.endpoint), refusal)


def test_date_within_fifteen_minutes_is_accepted(service: Service, demo: dict[str, Any]) -> None:
    when = datetime.now(UTC) - timedelta(minutes=14)
    assert _sign(service, demo, sdk_date=when).send(service.endpoint).status_code == 200


def test_body_tampered_after_signing(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    sid = demo["servers"]["stopped"]
    before = _server_status(service, demo, sid)
    signed = _sign(
        service,
        demo,
        method="POST",
        path=f"/v2/{demo['project_id']}/cloudservers/{sid}/reinstallos",
        body={"os-reinstall": {"adminpass": "Signed-Body-1"}},
    )
    tampered = json.dumps({"os-reinstall": {"adminpass": "Changed-Body-2"}}).encode()
    _refused(signed.send(service.endpoint, body=tampered), refusal)
    # A declared payload hash cannot launder it either.
    _refused(
        signed.send(
            service.endpoint, body=tampered, headers={"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
        ),
        refusal,
    )
    after = _server_status(service, demo, sid)
    assert after["status"] == before["status"] and after["updated"] == before["updated"]


def test_unsigned_payload_is_refused_for_bodies(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    sid = demo["servers"]["stopped"]
    signed = _sign(
        service,
        demo,
        method="POST",
        path=f"/v2/{demo['project_id']}/cloudservers/{sid}/reinstallos",
        body=_reinstall(demo),
        extra_headers={"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"},
    )
    _refused(signed.send(service.endpoint), refusal)


def test_query_tampered_after_signing(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    signed = _sign(
        service, demo, path=f"/v1/{demo['project_id']}/cloudservers/detail", query=[("limit", 1)]
    )
    assert signed.send(service.endpoint).status_code == 200
    _refused(signed.send(service.endpoint, query=[("limit", 2)]), refusal)
    _refused(signed.send(service.endpoint, query=[("limit", 1), ("name", "x")]), refusal)


def test_signature_replayed_on_another_path_or_method(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    p = demo["project_id"]
    signed = _sign(service, demo)
    _refused(
        signed.send(service.endpoint, path=f"/v1/{p}/cloudservers/{demo['servers']['running']}"),
        refusal,
    )
    _refused(signed.send(service.endpoint, path=f"/v1/{p}/cloudservers/detail"), refusal)
    _refused(signed.send(service.endpoint, method="DELETE"), refusal)


def test_signed_header_changed_or_missing(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    signed = _sign(service, demo)
    _refused(signed.send(service.endpoint, headers={"User-Agent": "changed"}), refusal)
    _refused(signed.send(service.endpoint, drop_headers=["X-Sdk-Date"]), refusal)


@pytest.mark.parametrize("unsigned", ["host", "x-sdk-date"])
def test_host_and_date_must_be_signed(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any], unsigned: str
) -> None:
    path = f"/v1/{demo['project_id']}/cloudservers/detail"
    headers = {
        "host": service.endpoint.split("://")[1],
        "x-sdk-date": sig.format_date(datetime.now(UTC)),
        "x-project-id": demo["project_id"],
    }
    signed_names = sorted(n for n in headers if n != unsigned)
    canonical = sig.canonical_request(
        method="GET",
        raw_path=path,
        query_string="",
        headers=headers,
        signed_headers=signed_names,
        body_hash=sig.EMPTY_SHA256,
    )
    signature = sig.compute_signature(
        demo["secret_key"], sig.string_to_sign(headers["x-sdk-date"], canonical)
    )
    auth = (
        f"SDK-HMAC-SHA256 Access={demo['access_key']}, "
        f"SignedHeaders={';'.join(signed_names)}, Signature={signature}"
    )
    resp = httpx.get(f"{service.endpoint}{path}", headers={**headers, "Authorization": auth})
    _refused(resp, refusal)


@pytest.mark.parametrize(
    "authorization",
    [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature=00",
        "SDK-HMAC-SM3 Access=AK, SignedHeaders=host;x-sdk-date, Signature=00",
        "Bearer abc",
        "SDK-HMAC-SHA256 Access=A, Access=B, SignedHeaders=host, Signature=00",
    ],
)
def test_malformed_authorization(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any], authorization: str
) -> None:
    resp = httpx.get(
        f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/detail",
        headers={"Authorization": authorization},
    )
    _refused(resp, refusal)


def test_x_project_id_of_another_account(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any]
) -> None:
    other = demo["other_project"]["project_id"]
    signed = _sign(
        service,
        demo,
        project_id=other,
        path=f"/v1/{other}/cloudservers/{demo['other_project']['servers']['stopped']}",
    )
    _refused(signed.send(service.endpoint), refusal)
    unknown = "0" * 32
    signed = _sign(service, demo, project_id=unknown, path=f"/v1/{unknown}/cloudservers/detail")
    _refused(signed.send(service.endpoint), refusal)


def test_bad_tokens(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any], token: str
) -> None:
    url = f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/detail"
    assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
    for bad in ("not-a-token", token[:-1], token + "x", ""):
        _refused(httpx.get(url, headers={"X-Auth-Token": bad}), refusal)


@pytest.mark.parametrize(
    "override",
    [
        {"user": {"password": "Wrong-Password-1"}},
        {"user": {"name": "nobody"}},
        {"user": {"domain": {"name": "other-account"}}},
        {"scope": {"project": {"name": "eu-de_other"}}},
        {"scope": {"project": {"id": "0" * 32}}},
    ],
)
def test_token_login_refusals_are_indistinguishable(
    service: Service, demo: dict[str, Any], refusal: dict[str, Any], override: dict[str, Any]
) -> None:
    resp = httpx.post(f"{service.endpoint}/v3/auth/tokens", json=password_login(demo, **override))
    # Keystone's envelope, the same body whichever part of the login was wrong.
    assert resp.status_code == 401, resp.text
    assert resp.json() == {
        "error": {"code": 401, "title": "Unauthorized", "message": refusal["message"]}
    }
    assert "WWW-Authenticate" in resp.headers
    assert "X-Subject-Token" not in resp.headers


def test_foreign_project_token_scope(service: Service, demo: dict[str, Any]) -> None:
    other = demo["other_project"]["project_id"]
    body = password_login(demo, scope={"project": {"id": other}})
    assert httpx.post(f"{service.endpoint}/v3/auth/tokens", json=body).status_code == 401


def test_refusals_are_logged_without_secrets(service: Service, demo: dict[str, Any]) -> None:
    log = service.log()
    assert 'auth refused reason="signature mismatch"' in log
    assert 'auth refused reason="unknown access key"' in log
    for secret in (demo["secret_key"], demo["password"], demo["other_project"]["secret_key"]):
        assert secret not in log
