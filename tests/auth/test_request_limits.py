"""Bodies over 64 KB are refused before they are read or parsed, authenticated or not; user_data
is length-checked before it is decoded."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.auth.conftest import Service, error_of

pytestmark = pytest.mark.process  # a real `ecslite serve` (tests/auth/conftest.py)

LIMIT = 64 * 1024


def _signed(service: Service, demo: dict[str, Any]) -> httpx.Client:
    auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
    return httpx.Client(base_url=service.endpoint, auth=auth, timeout=30)


def _too_large(resp: httpx.Response) -> None:
    assert resp.status_code == 413, resp.text
    assert error_of(resp)["code"] == "Ecs.0005"


def test_oversized_body_is_refused_before_authentication(
    service: Service, demo: dict[str, Any]
) -> None:
    url = f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/action"
    _too_large(httpx.post(url, content=b"{" + b" " * LIMIT + b"}"))


def test_oversized_signed_body_is_refused(service: Service, demo: dict[str, Any]) -> None:
    with _signed(service, demo) as api:
        body = {"keypair": {"name": "big", "public_key": "x" * LIMIT}}
        resp = api.post(f"/v2.1/{demo['project_id']}/os-keypairs", json=body)
        _too_large(api.post(f"/v1/{demo['project_id']}/cloudservers/action", json=body))
    # A Nova route refuses in Nova's envelope.
    assert resp.status_code == 413, resp.text
    assert resp.json()["overLimit"]["code"] == 413


def test_chunked_body_is_cut_off_at_the_limit(service: Service, demo: dict[str, Any]) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 4096

    url = f"{service.endpoint}/v1/{demo['project_id']}/cloudservers/action"
    _too_large(httpx.post(url, content=chunks()))


def test_huge_content_length_is_answered_without_sending_the_body(
    service: Service, demo: dict[str, Any]
) -> None:
    # Announce 10 GB and send nothing: the answer must come from the header alone.
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as s:
        s.sendall(
            f"POST /v1/{demo['project_id']}/cloudservers/action HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{service.port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 10000000000\r\n\r\n".encode()
        )
        received = b""
        while b'"}}' not in received:  # the end of the JSON error envelope
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '"Ecs.0005"' in answer


def test_body_just_under_the_limit_is_served(service: Service, demo: dict[str, Any]) -> None:
    with _signed(service, demo) as api:
        body = json.dumps({"keypair": {"name": "padded"}}).encode()
        padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
        assert len(padded) == LIMIT
        resp = api.post(
            f"/v2.1/{demo['project_id']}/os-keypairs",
            content=padded,
            headers={"Content-Type": "application/json"},
        )
        assert resp.status_code == 200, resp.text
        assert api.delete(f"/v2.1/{demo['project_id']}/os-keypairs/padded").status_code == 202


def test_user_data_over_32_kb_is_refused(service: Service, demo: dict[str, Any]) -> None:
    user_data = base64.b64encode(b"#" * (32 * 1024 + 1)).decode()
    with _signed(service, demo) as api:
        resp = api.post(
            f"/v2/{demo['project_id']}/cloudservers/{demo['servers']['stopped']}/reinstallos",
            json={"os-reinstall": {"metadata": {"user_data": user_data}}},
        )
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == "Ecs.0005" and "32 KB" in err["message"]
