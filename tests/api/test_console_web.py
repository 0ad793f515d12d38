"""The console's HTTP surface in-process: every route is enumerated from the app, so a new
console route cannot skip the session and CSRF checks; login, cookie flags, tenancy, and the
console serving the API's own wire shapes."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient

from ecslite.demo import ensure_demo
from ecslite.domain.reinstall import PASSWORD_MAX, PASSWORD_MIN, PASSWORD_SPECIALS
from tests.conftest import Api

PAGE_ROUTES = {
    "/console",
    "/console/",
    "/console/servers/{server_id}",
    "/console/keypairs",
    "/console/jobs",
}
PUBLIC_ROUTES = {("GET", "/console/login"), ("POST", "/console/login")}
STATIC_ROUTES = {("GET", "/console/static/{name}")}
# The remote console's page and noVNC's files: the one-time token in the URL is the credential
# (tests/api/test_remote_console_relay.py, tests/e2e/test_sdk_around_reinstall.py).
TOKEN_ROUTES = {("GET", "/console/remote/{token}"), ("GET", "/console/novnc/{path:path}")}


def console_routes(app: Any) -> set[tuple[str, str]]:
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts = list(flatten(app.routes)) if flatten else list(app.routes)
    out = set()
    for ctx in contexts:
        path, methods = getattr(ctx, "path", ""), getattr(ctx, "methods", None) or set()
        if path == "/console" or path.startswith("/console/"):
            out |= {(m, path) for m in methods if m != "HEAD"}
    return out


def browser(api: Api) -> TestClient:
    """A client with no API credentials: only what a browser has (cookies)."""
    return TestClient(api.client.app, raise_server_exceptions=False)


def login_form(client: TestClient) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def log_in(client: TestClient, creds: dict[str, Any]) -> str:
    """Log in through the form; return the session's CSRF token."""
    csrf = login_form(client)
    resp = client.post(
        "/console/login",
        data={
            "csrf": csrf,
            "user": creds["user_name"],
            "domain": creds["domain_name"],
            "project": creds["project_name"],
            "password": creds["password"],
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    page = client.get("/console")
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found
    return found.group(1)


def fill(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    assert "{" not in template, template
    return template


def test_every_console_route_needs_a_session(api: Api) -> None:
    routes = console_routes(api.client.app)
    assert ("POST", "/console/api/servers/{server_id}/reinstall") in routes
    assert ("GET", "/console/api/events") in routes
    ids = {"server_id": api.demo["servers"]["stopped"], "job_id": uuid.uuid4().hex}
    ids |= {"name": "demo-key"}
    client = browser(api)
    for method, template in sorted(routes - PUBLIC_ROUTES - STATIC_ROUTES - TOKEN_ROUTES):
        resp = client.request(method, fill(template, ids), json={}, follow_redirects=False)
        if template in PAGE_ROUTES or template == "/console/logout":
            assert resp.status_code == 303, (method, template)
            assert resp.headers["location"] == "/console/login"
        else:
            assert resp.status_code == 401, (method, template, resp.text)
            assert resp.json()["error"]["code"] == "Common.0013"


def test_every_console_mutation_needs_the_csrf_token(api: Api) -> None:
    client = browser(api)
    csrf = log_in(client, api.demo)
    mutations = {
        (m, p)
        for m, p in console_routes(api.client.app)
        if m in ("POST", "PUT", "PATCH", "DELETE") and (m, p) not in PUBLIC_ROUTES
    }
    assert ("DELETE", "/console/api/keypairs/{name}") in mutations
    assert ("POST", "/console/api/servers/{server_id}/changeos") in mutations
    assert ("POST", "/console/api/servers/{server_id}/delete") in mutations
    ids = {"server_id": api.demo["servers"]["stopped"], "name": "demo-key"}
    for method, template in sorted(mutations):
        for headers in ({}, {"X-CSRF-Token": "x" + csrf[1:]}):
            resp = client.request(method, fill(template, ids), json={}, headers=headers)
            assert resp.status_code == 403, (method, template, resp.text)
            assert resp.json()["error"]["code"] == "Ecs.0003"
    # Nothing happened: the server is untouched, the key pair and the session still exist.
    assert api.server(api.demo["servers"]["stopped"])["status"] == "SHUTOFF"
    assert client.get("/console/keypairs").text.count('data-delete="demo-key"') == 1


def test_login_sets_a_strict_httponly_cookie_scoped_to_the_console(api: Api) -> None:
    client = browser(api)
    csrf = login_form(client)
    d = api.demo
    form = {"user": d["user_name"], "domain": d["domain_name"], "project": d["project_name"]}
    wrong = client.post("/console/login", data={**form, "csrf": csrf, "password": "nope-Nope1"})
    assert wrong.status_code == 401 and "ecslite_console=" not in wrong.headers.get(
        "set-cookie", ""
    )
    no_csrf = client.post("/console/login", data={**form, "password": d["password"]})
    assert no_csrf.status_code == 403
    csrf = login_form(client)
    ok = client.post(
        "/console/login",
        data={**form, "csrf": csrf, "password": d["password"]},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    cookie = next(
        c for c in ok.headers.get_list("set-cookie") if c.startswith("ecslite_console=")
    ).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    page = client.get("/console")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_the_console_serves_the_apis_own_shapes(api: Api) -> None:
    client = browser(api)
    csrf = log_in(client, api.demo)
    mine = client.get("/console/api/servers").json()["servers"]
    listed = api.client.get(f"/v1/{api.project}/cloudservers/detail").json()["servers"]
    assert sorted(mine, key=lambda s: s["id"]) == sorted(listed, key=lambda s: s["id"])
    stopped = api.demo["servers"]["stopped"]
    job_id = client.post(
        f"/console/api/servers/{stopped}/reinstall",
        json={"keyname": "demo-key"},
        headers={"X-CSRF-Token": csrf},
    ).json()["job_id"]
    api.wait(job_id)
    assert client.get(f"/console/api/jobs/{job_id}").json() == api.job(job_id)
    recent = client.get(f"/console/api/jobs?server_id={stopped}").json()["jobs"]
    assert [j["job_id"] for j in recent] == [job_id]
    assert api.server(stopped)["key_name"] == "demo-key"


def test_another_projects_things_look_missing(api: Api) -> None:
    mine = browser(api)
    csrf = log_in(mine, api.demo)
    stopped = api.demo["servers"]["stopped"]
    job_id = mine.post(
        f"/console/api/servers/{stopped}/reinstall",
        json={"keyname": "demo-key"},
        headers={"X-CSRF-Token": csrf},
    ).json()["job_id"]
    other = browser(api)
    other_csrf = log_in(other, api.demo["other_project"])
    names = [s["name"] for s in other.get("/console/api/servers").json()["servers"]]
    assert names == ["other-stopped"]
    assert other.get("/console/api/jobs").json() == {"jobs": []}
    for known, unknown in (
        (f"/console/api/servers/{stopped}", f"/console/api/servers/{uuid.uuid4()}"),
        (f"/console/api/jobs/{job_id}", f"/console/api/jobs/{uuid.uuid4().hex}"),
    ):
        a, b = other.get(known), other.get(unknown)
        assert a.status_code == b.status_code >= 400
        assert a.json()["error"]["code"] == b.json()["error"]["code"]
    resp = other.delete("/console/api/keypairs/demo-key", headers={"X-CSRF-Token": other_csrf})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Ecs.0314"
    assert api.client.get(f"/v2.1/{api.project}/os-keypairs/demo-key").status_code == 200
    assert "does not exist" in other.get(f"/console/servers/{stopped}").text


def test_the_page_carries_the_apis_password_rules(api: Api) -> None:
    client = browser(api)
    log_in(client, api.demo)
    page = client.get("/console").text
    found = re.search(r'id="password-rules-data">(.*?)</script>', page)
    assert found
    rules = json.loads(found.group(1))
    assert (rules["min"], rules["max"]) == (PASSWORD_MIN, PASSWORD_MAX)
    assert set(rules["specials"]) == PASSWORD_SPECIALS


def test_an_older_demo_json_gains_the_second_tenants_login(tmp_path: Path) -> None:
    info, _ = ensure_demo(tmp_path, "http://x")
    for key in ("user_name", "domain_name", "project_name", "password"):
        del info["other_project"][key]
    (tmp_path / "demo.json").write_text(json.dumps(info))
    again, seed = ensure_demo(tmp_path, "http://x")
    other = again["other_project"]
    assert other["user_name"] == "other-user" and other["password"]
    user = next(u for u in seed.users if u.id == other["user_id"])
    assert user.password == other["password"]
    kept, _ = ensure_demo(tmp_path, "http://x")
    assert kept["other_project"]["password"] == other["password"]  # written once, then kept


@pytest.mark.parametrize("name", ["console.js", "console.css"])
def test_assets_are_served_from_the_package(api: Api, name: str) -> None:
    resp = browser(api).get(f"/console/static/{name}")
    assert resp.status_code == 200 and resp.text
    assert browser(api).get("/console/static/..%2Fsession.py").status_code == 404


def _seed_server(api: Api, **fields: Any) -> str:
    from ecslite.store.seeding import SeedDocument, apply_seed

    container = api.client.app.state.container
    server_id = str(uuid.uuid4())
    server = {
        "id": server_id,
        "project_id": api.project,
        "user_id": api.demo["user_id"],
        "name": "seeded",
        "image_id": api.demo["images"]["cloudinit"],
        "status": "ACTIVE",
        "system_disk": {"id": str(uuid.uuid4())},
        **fields,
    }
    apply_seed(
        SeedDocument.model_validate({"servers": [server]}),
        uow_factory=container.uow_factory,
        box=api.client.app.state.secret_box,
        clock=container.clock,
    )
    return server_id


def test_names_and_metadata_cannot_inject_markup(api: Api) -> None:
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    server_id = _seed_server(api, name=evil, metadata={"note": evil})
    client = browser(api)
    log_in(client, api.demo)
    for path in ("/console", f"/console/servers/{server_id}"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path


@pytest.mark.parametrize(
    ("forward", "command"),
    [
        ("127.0.0.1:2222", "ssh -p 2222 root@127.0.0.1"),
        ("0.0.0.0:2201", "ssh -p 2201 root@testserver"),
        ("2203", "ssh -p 2203 root@testserver"),
        ("not-a-port", None),
    ],
)
def test_a_forwarded_ssh_port_is_shown_as_a_command(
    api: Api, forward: str, command: str | None
) -> None:
    server_id = _seed_server(api, name="forwarded", metadata={"ssh_forward": forward})
    client = browser(api)
    log_in(client, api.demo)
    page = client.get(f"/console/servers/{server_id}").text
    shown = re.search(r'<code id="ssh-command">([^<]*)</code>', page)
    assert (shown.group(1) if shown else None) == command
    assert f"<code>{forward}</code>" in page  # and the raw metadata entry


def test_console_logins_share_the_apis_failed_login_throttle(api: Api) -> None:
    """Wrong passwords through the form count like wrong ``POST /v3/auth/tokens``: the form is
    no cheaper way to make the service verify passwords."""
    client = browser(api)
    o = api.demo["other_project"]
    form = {"user": o["user_name"], "domain": o["domain_name"], "project": o["project_name"]}
    statuses = []
    for _ in range(15):
        csrf = login_form(client)
        resp = client.post("/console/login", data={**form, "csrf": csrf, "password": "Wrong-pw-1"})
        statuses.append(resp.status_code)
    assert 401 in statuses and statuses[-1] == 429, statuses
    assert int(resp.headers["Retry-After"]) >= 1
    # Throttled means refused before any check: even the right password is not tried now.
    csrf = login_form(client)
    right = client.post("/console/login", data={**form, "csrf": csrf, "password": o["password"]})
    assert right.status_code == 429
    # And the API's own login path sees the same count.
    api_login = api.client.post(
        "/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": o["user_name"],
                            "password": o["password"],
                            "domain": {"name": o["domain_name"]},
                        }
                    },
                },
                "scope": {"project": {"name": o["project_name"]}},
            }
        },
    )
    assert api_login.status_code == 429


def _events(client: TestClient, headers: dict[str, str] | None = None, **params: str) -> Any:
    """Read a console stream that ends by itself: (status, [(id, event, data)])."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    with client.stream("GET", "/console/api/events", params=params, headers=headers or {}) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, r.json()
        assert r.headers["content-type"].startswith("text/event-stream")
        ev: dict[str, str] = {}
        for line in r.iter_lines():
            if line == "":
                if "data" in ev:
                    out.append((int(ev["id"]), ev["event"], json.loads(ev["data"])))
                ev = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                ev[key] = value.removeprefix(" ")
    return 200, out


def test_the_console_stream_is_the_apis_for_the_sessions_project(api: Api) -> None:
    mine = browser(api)
    csrf = log_in(mine, api.demo)
    stopped = api.demo["servers"]["stopped"]
    job_id = mine.post(
        f"/console/api/servers/{stopped}/reinstall",
        json={"keyname": "demo-key"},
        headers={"X-CSRF-Token": csrf},
    ).json()["job_id"]
    api.wait(job_id)

    # From the start of the history (Last-Event-ID: 0) to the job's terminal event.
    status, replay = _events(mine, {"Last-Event-ID": "0"}, job_id=job_id)
    assert status == 200 and replay
    jobs = [data for _, kind, data in replay if kind == "job"]
    assert jobs[-1] == api.job(job_id) and jobs[-1]["status"] == "SUCCESS"
    assert {data["server"]["id"] for _, kind, data in replay if kind == "server"} == {stopped}
    ids = [i for i, _, _ in replay]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # Resuming after any event delivers exactly the events after it, as the API's stream does.
    middle = ids[len(ids) // 2]
    _, resumed = _events(mine, {"Last-Event-ID": str(middle)}, job_id=job_id)
    assert resumed == [e for e in replay if e[0] > middle]
    assert _events(mine, {"Last-Event-ID": "not-an-id"}, job_id=job_id)[0] == 400

    # Another project's session: the job and the server look missing, as unknown ones do.
    other = browser(api)
    log_in(other, api.demo["other_project"])
    for params in ({"job_id": job_id}, {"server_id": stopped}):
        theirs = _events(other, **params)
        unknown = _events(other, **{k: uuid.uuid4().hex for k in params})
        assert theirs[0] == unknown[0] >= 400, (theirs, unknown)
        assert theirs[1]["error"]["code"] == unknown[1]["error"]["code"]
    # Without a session there is no stream at all.
    assert browser(api).get("/console/api/events").status_code == 401


def test_change_os_and_delete_follow_the_apis_rules(api: Api) -> None:
    client = browser(api)
    csrf = log_in(client, api.demo)
    headers = {"X-CSRF-Token": csrf}
    stopped = api.demo["servers"]["stopped"]
    # Change OS with user data to an image without Cloud-Init (the console changes OS as the
    # v1 API, which takes such images, but not user data for them): the API's refusal.
    bad = client.post(
        f"/console/api/servers/{stopped}/changeos",
        json={
            "keyname": "demo-key",
            "user_data": "#cloud-config\n",
            "image_id": api.demo["images"]["no_cloudinit"],
        },
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"].startswith("Ecs.")
    missing = client.post(
        f"/console/api/servers/{stopped}/changeos", json={"keyname": "demo-key"}, headers=headers
    )
    assert missing.status_code == 400
    ok = client.post(
        f"/console/api/servers/{stopped}/changeos",
        json={"keyname": "demo-key", "image_id": api.demo["images"]["alt"]},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text
    job = api.wait(ok.json()["job_id"])
    assert (job["job_type"], job["status"]) == ("changeOS", "SUCCESS")
    assert api.server(stopped)["image"]["id"] == api.demo["images"]["alt"]

    gone = client.post(
        f"/console/api/servers/{stopped}/delete", json={"delete_volume": True}, headers=headers
    )
    assert gone.status_code == 200, gone.text
    assert api.wait(gone.json()["job_id"])["status"] == "SUCCESS"
    assert api.client.get(f"/v1/{api.project}/cloudservers/{stopped}").status_code == 404
    again = client.post(f"/console/api/servers/{stopped}/delete", json={}, headers=headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "Ecs.0114"


def test_create_offers_the_catalogue_and_keeps_the_apis_rules(api: Api) -> None:
    client = browser(api)
    csrf = log_in(client, api.demo)
    headers = {"X-CSRF-Token": csrf}
    page = client.get("/console").text
    assert f'value="{api.demo["subnet_id"]}"' in page
    body = {
        "name": "made-here",
        "image_id": api.demo["images"]["cloudinit"],
        "flavor_id": "s6.small.1",
        "subnet_id": api.demo["subnet_id"],
        "keyname": "demo-key",
        "data_disk_gb": 20,
    }
    assert 'value="s6.small.1"' in page
    weak = client.post(
        "/console/api/servers", json={**body, "keyname": None, "adminpass": "weak"}, headers=headers
    )
    # The API's password rule.
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "Ecs.0011"
    unknown = client.post(
        "/console/api/servers", json={**body, "subnet_id": uuid.uuid4().hex}, headers=headers
    )
    assert unknown.status_code >= 400 and unknown.json()["error"]["code"].startswith("Ecs.")
    ok = client.post("/console/api/servers", json=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert api.wait(ok.json()["job_id"])["status"] == "SUCCESS"
    server = api.server(ok.json()["server_id"])
    assert (server["name"], server["key_name"]) == ("made-here", "demo-key")
    assert len(server["os-extended-volumes:volumes_attached"]) == 2


def test_reset_password_and_remote_login_from_the_console(api: Api) -> None:
    client = browser(api)
    headers = {"X-CSRF-Token": log_in(client, api.demo)}
    running = api.demo["servers"]["running"]
    page = client.get(f"/console/servers/{running}").text
    assert 'data-action="reset-password"' in page and 'data-action="remote-login"' in page
    weak = client.post(
        f"/console/api/servers/{running}/reset-password", json={"password": "weak"}, headers=headers
    )
    assert (weak.status_code, weak.json()["error"]["code"]) == (400, "Ecs.0011")
    ok = client.post(
        f"/console/api/servers/{running}/reset-password",
        json={"password": "Console-Reset-1"},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text
    job = api.wait(ok.json()["job_id"])
    assert (job["job_type"], job["status"]) == ("resetPassword", "SUCCESS")
    url = client.post(f"/console/api/servers/{running}/remote-console", json={}, headers=headers)
    assert url.status_code == 200, url.text
    screen = client.get(url.json()["url"])
    assert screen.status_code == 200 and "sim driver has no screen" in screen.text
