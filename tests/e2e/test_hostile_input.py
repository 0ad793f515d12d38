"""Malformed and oversized input against a live process: a clear 4xx in the API's error
format, never a 5xx, and the service keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import Service


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = Service(tmp_path_factory.mktemp("hostile") / "data").start()
    try:
        yield s
    finally:
        s.stop()


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"].startswith(("Ecs.", "Common."))
    return str(body["error"]["code"])


def _url(svc: Service) -> str:
    return f"/v2/{svc.demo['project_id']}/cloudservers/{svc.demo['servers']['stopped']}/reinstallos"


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b'{"os-reinstall": {"adminpass": "!QAZxsw2"}}', "text/plain", 415),
        (b"adminpass=x", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe\xfd{}", "application/json", 400),
        (b"[" * 30000 + b"]" * 30000, "application/json", 400),
        (b'{"a": ' * 6000 + b"{}" + b"}" * 6000, "application/json", 400),
        (b'{"os-reinstall": {"adminpass": "\\ud800"}}', "application/json", 400),
        (b"\x00" * 100, "application/json", 400),
        (b" ", "application/json", 400),
    ],
)
def test_bad_bodies_get_a_clear_4xx(svc: Service, content: bytes, ctype: str, status: int) -> None:
    with svc.http() as http:
        resp = http.post(_url(svc), content=content, headers={"Content-Type": ctype})
    assert _error(resp, status) in ("Ecs.0005", "Ecs.0011", "Common.0002")


def test_huge_headers_get_431_in_the_error_format(svc: Service) -> None:
    resp = httpx.get(
        f"{svc.endpoint}/v1/{svc.demo['project_id']}/cloudservers/detail",
        headers={"X-Junk": "a" * 20000},
    )
    assert _error(resp, 431) == "Ecs.0005"


def test_many_headers_are_refused_too(svc: Service) -> None:
    headers = {f"X-H{i}": "v" * 100 for i in range(200)}
    resp = httpx.get(
        f"{svc.endpoint}/v1/{svc.demo['project_id']}/cloudservers/detail", headers=headers
    )
    assert _error(resp, 431) == "Ecs.0005"


def test_unknown_routes_and_methods_use_the_error_format(svc: Service) -> None:
    with svc.http() as http:
        assert _error(http.get("/v9/nothing/here"), 404)
        assert _error(http.put(f"/v1/{svc.demo['project_id']}/jobs/x", json={}), 405)


def test_service_still_serves_and_logged_no_traceback(svc: Service) -> None:
    with svc.http() as http:
        resp = http.get(f"/v1/{svc.demo['project_id']}/cloudservers/detail")
    assert resp.status_code == 200
    assert "Traceback" not in svc.log()
