"""Text no store can hold, against a real process on SQLite and (with
ECSLITE_TEST_DATABASE_URL) PostgreSQL: NUL, lone surrogates and invalid UTF-8 in path ids,
query values, JSON fields and the unauthenticated login answer 400 in the route's own envelope
(ECS, Nova or Keystone), never 500; deep ``#cloud-config`` YAML answers Ecs.0005."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import Service, fresh_postgres_database

pytestmark = pytest.mark.process

NUL = "\\u0000"
SURROGATE = "\\ud800"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("gate") / "data"
    server = os.environ.get("ECSLITE_TEST_DATABASE_URL")
    if not server:
        s = Service(data).start()
        try:
            yield s
        finally:
            s.stop()
        return
    with fresh_postgres_database(server) as url:
        s = Service(data, database_url=url).start()
        try:
            yield s
        finally:
            s.stop()


def _ecs_400(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == "Ecs.0005", body
    return str(body["error"]["message"])


def _nova_400(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"badRequest"} and body["badRequest"]["code"] == 400, body
    return str(body["badRequest"]["message"])


def _keystone_400(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    body = resp.json()["error"]
    assert body["code"] == 400 and body["title"] == "Bad Request", body
    return str(body["message"])


def _json(doc: object, bad: str) -> str:
    """``doc`` as JSON text with each ``@BAD@`` replaced by a raw JSON escape."""
    return json.dumps(doc).replace("@BAD@", bad)


def _post_json(http: httpx.Client, path: str, raw: str) -> httpx.Response:
    return http.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80", "%FF", "%0A"])
def test_path_ids(svc: Service, bad: str) -> None:
    d = svc.demo
    p = d["project_id"]
    with svc.http() as http:
        assert "URL path" in _ecs_400(http.get(f"/v1/{p}/cloudservers/x{bad}"))
        assert "URL path" in _ecs_400(http.get(f"/v1/{p}/jobs/{bad}"))
        assert _ecs_400(http.post(f"/v2/{p}/cloudservers/a{bad}/reinstallos", json={}))
        assert "URL path" in _nova_400(http.get(f"/v2.1/{p}/os-keypairs/k{bad}"))
        assert _nova_400(http.delete(f"/v2.1/{p}/os-keypairs/k{bad}"))


@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80", "%FF", "%1B"])
def test_query_values(svc: Service, bad: str) -> None:
    p = svc.demo["project_id"]
    with svc.http() as http:
        assert "query" in _ecs_400(http.get(f"/v1/{p}/cloudservers/detail?name=a{bad}"))
        assert "query" in _ecs_400(http.get(f"/v1/{p}/cloudservers/detail?status=x{bad}"))


def test_a_repeated_query_parameter_is_refused(svc: Service) -> None:
    p = svc.demo["project_id"]
    with svc.http() as http:
        for q in ("limit=1&limit=1000", "limit=1000&limit=1"):
            assert "repeated" in _ecs_400(http.get(f"/v1/{p}/cloudservers/detail?{q}"))
        assert http.get(f"/v1/{p}/cloudservers/detail?limit=1").status_code == 200


@pytest.mark.parametrize("bad", [NUL, SURROGATE, "\\udc00x"])
def test_reinstall_fields(svc: Service, bad: str) -> None:
    d = svc.demo
    p, s = d["project_id"], d["servers"]["stopped"]
    path = f"/v2/{p}/cloudservers/{s}/reinstallos"
    user = d["user_id"]
    bodies = [
        f'{{"os-reinstall": {{"keyname": "demo-key{bad}", "userid": "{user}"}}}}',
        f'{{"os-reinstall": {{"keyname": "demo-key", "userid": "{user}{bad}"}}}}',
        f'{{"os-reinstall": {{"adminpass": "Aa1!aaaa{bad}"}}}}',
        _json(
            {
                "os-reinstall": {
                    "keyname": "demo-key",
                    "userid": user,
                    "metadata": {"__system__encrypted": "1", "__system__cmkid": "k@BAD@"},
                }
            },
            bad,
        ),
        f'{{"os-reinstall{bad}": {{}}}}',
    ]
    with svc.http() as http:
        for raw in bodies:
            assert "contains" in _ecs_400(_post_json(http, path, raw))
        # The server was not touched: it is still SHUTOFF, with no reinstall started.
        assert http.get(f"/v1/{p}/cloudservers/{s}").json()["server"]["status"] == "SHUTOFF"


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_batch_server_ids(svc: Service, bad: str) -> None:
    p = svc.demo["project_id"]
    raw = f'{{"os-start": {{"servers": [{{"id": "x{bad}"}}]}}}}'
    with svc.http() as http:
        assert "servers[0].id" in _ecs_400(_post_json(http, f"/v1/{p}/cloudservers/action", raw))


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_nova_key_pair_fields(svc: Service, bad: str) -> None:
    p = svc.demo["project_id"]
    with svc.http() as http:
        raw = f'{{"keypair": {{"name": "k{bad}"}}}}'
        assert "keypair.name" in _nova_400(_post_json(http, f"/v2.1/{p}/os-keypairs", raw))


def _login(d: dict[str, Any], bad: str, *, name: str, password: str = "x") -> str:
    user = {"name": name, "password": password, "domain": {"name": d["domain_name"]}}
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": d["project_name"]}},
        }
    }
    return _json(body, bad)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_login_without_credentials(svc: Service, bad: str) -> None:
    d = svc.demo
    with httpx.Client(base_url=svc.endpoint, timeout=10) as anon:
        for raw in (
            _login(d, bad, name="demo@BAD@"),
            _login(d, bad, name="demo", password="p@BAD@"),
        ):
            assert "contains" in _keystone_400(_post_json(anon, "/v3/auth/tokens", raw))


def _cloud_config(text: str) -> str:
    return base64.b64encode(("#cloud-config\n" + text).encode()).decode()


@pytest.mark.parametrize(
    "yaml_text",
    ["a: " + "[" * 6000 + "]" * 6000 + "\n", "".join("  " * i + "k:\n" for i in range(150))],
    ids=["flow", "block"],
)
def test_deep_cloud_config_is_refused(svc: Service, yaml_text: str) -> None:
    d = svc.demo
    p, s = d["project_id"], d["servers"]["stopped"]
    body = {
        "os-reinstall": {
            "keyname": "demo-key",
            "userid": d["user_id"],
            "metadata": {"user_data": _cloud_config(yaml_text)},
        }
    }
    with svc.http() as http:
        msg = _ecs_400(http.post(f"/v2/{p}/cloudservers/{s}/reinstallos", json=body))
    assert "deeper than 64 levels" in msg


def test_nothing_above_went_wrong_inside(svc: Service) -> None:
    with svc.http() as http:
        assert http.get(f"/v1/{svc.demo['project_id']}/cloudservers/detail").status_code == 200
    log = svc.log()
    assert "Traceback" not in log and "status=500" not in log
