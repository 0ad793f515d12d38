"""Keystone v3 around a token: unscoped logins, validation and revocation with
X-Subject-Token (a revoked token is refused by every route afterwards), the token's catalog and
the projects a user may scope to."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api


def _anon(api: Api) -> httpx.Client:
    return httpx.Client(transport=api.client._transport, base_url=str(api.client.base_url))


def _login(api: Api, *, scoped: bool = True) -> httpx.Response:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {
                    "name": api.demo["user_name"],
                    "password": api.demo["password"],
                    "domain": {"name": api.demo["domain_name"]},
                }
            },
        }
    }
    if scoped:
        auth["scope"] = {"project": {"id": api.project}}
    resp = _anon(api).post("/v3/auth/tokens", json={"auth": auth})
    assert resp.status_code == 201, resp.text
    return resp


def _token(api: Api, *, scoped: bool = True) -> str:
    return str(_login(api, scoped=scoped).headers["X-Subject-Token"])


def _as(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


def _keystone_error(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == status and err["title"] and err["message"]


def test_unscoped_login_names_the_user_and_acts_in_no_project(api: Api) -> None:
    resp = _login(api, scoped=False)
    token = resp.json()["token"]
    assert token["user"]["id"] == api.demo["user_id"]
    assert token["methods"] == ["password"] and token["expires_at"] > token["issued_at"]
    assert "project" not in token and "catalog" not in token
    unscoped = resp.headers["X-Subject-Token"]
    anon = _anon(api)
    p = api.project
    assert anon.get(f"/v1/{p}/cloudservers/detail", headers=_as(unscoped)).status_code == 400
    assert anon.get(f"/v2.1/{p}/servers", headers=_as(unscoped)).status_code == 400
    assert anon.get("/image/v2/images", headers=_as(unscoped)).status_code == 403
    # It may list the projects it can be scoped to.
    projects = anon.get("/v3/auth/projects", headers=_as(unscoped))
    assert projects.status_code == 200, projects.text
    assert p in {x["id"] for x in projects.json()["projects"]}
    _keystone_error(anon.get("/v3/auth/catalog", headers=_as(unscoped)), 403)


def test_validate_a_token_with_x_subject_token(api: Api) -> None:
    caller, subject = _token(api), _token(api)
    anon = _anon(api)
    headers = {**_as(caller), "X-Subject-Token": subject}
    got = anon.get("/v3/auth/tokens", headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["X-Subject-Token"] == subject
    token = got.json()["token"]
    assert token["user"]["name"] == api.demo["user_name"]
    assert token["project"]["id"] == api.project
    assert {e["type"] for e in token["catalog"]} >= {"identity", "compute", "image"}
    assert len(token["audit_ids"]) == 1
    bare = anon.get("/v3/auth/tokens?nocatalog", headers=headers).json()["token"]
    assert "catalog" not in bare and bare["audit_ids"] == token["audit_ids"]
    assert anon.head("/v3/auth/tokens", headers=headers).status_code == 200
    # A token validates itself too; an unscoped one validates without project.
    unscoped = _token(api, scoped=False)
    own = anon.get("/v3/auth/tokens", headers={**_as(unscoped), "X-Subject-Token": unscoped})
    assert own.status_code == 200 and "project" not in own.json()["token"]


def test_validation_refusals(api: Api) -> None:
    anon = _anon(api)
    subject = _token(api)
    _keystone_error(anon.get("/v3/auth/tokens", headers={"X-Subject-Token": subject}), 401)
    bad_caller = {**_as("not-a-token"), "X-Subject-Token": subject}
    _keystone_error(anon.get("/v3/auth/tokens", headers=bad_caller), 401)
    _keystone_error(anon.get("/v3/auth/tokens", headers=_as(subject)), 400)
    unknown = {**_as(subject), "X-Subject-Token": "not-a-token"}
    _keystone_error(anon.get("/v3/auth/tokens", headers=unknown), 404)
    assert anon.head("/v3/auth/tokens", headers=unknown).status_code == 404
    odd = {**_as(subject), "X-Subject-Token": subject}
    _keystone_error(anon.get("/v3/auth/tokens?allow_expired=1", headers=odd), 400)


def test_a_revoked_token_is_refused_everywhere(api: Api) -> None:
    anon = _anon(api)
    caller, victim = _token(api), _token(api)
    p = api.project
    assert anon.get(f"/v2.1/{p}/servers", headers=_as(victim)).status_code == 200
    gone = anon.delete("/v3/auth/tokens", headers={**_as(caller), "X-Subject-Token": victim})
    assert gone.status_code == 204, gone.text
    for path in (f"/v1/{p}/cloudservers/detail", f"/v2.1/{p}/servers", "/image/v2/images"):
        assert anon.get(path, headers=_as(victim)).status_code == 401, path
    after = {**_as(caller), "X-Subject-Token": victim}
    _keystone_error(anon.get("/v3/auth/tokens", headers=after), 404)
    assert anon.head("/v3/auth/tokens", headers=after).status_code == 404
    _keystone_error(anon.delete("/v3/auth/tokens", headers=after), 404)
    # The caller's own token is untouched; a token may revoke itself.
    assert anon.get(f"/v2.1/{p}/servers", headers=_as(caller)).status_code == 200
    self_revoke = {**_as(caller), "X-Subject-Token": caller}
    assert anon.delete("/v3/auth/tokens", headers=self_revoke).status_code == 204
    assert anon.get(f"/v2.1/{p}/servers", headers=_as(caller)).status_code == 401


def test_catalog_projects_and_domains(api: Api) -> None:
    anon = _anon(api)
    token = _token(api)
    cat = anon.get("/v3/auth/catalog", headers=_as(token))
    assert cat.status_code == 200, cat.text
    by_type = {s["type"]: s["endpoints"][0]["url"] for s in cat.json()["catalog"]}
    assert by_type["compute"].endswith(f"/compute/v2.1/{api.project}")
    assert by_type["identity"].endswith("/v3") and by_type["image"].endswith("/image")
    mine = anon.get(f"/v3/users/{api.demo['user_id']}/projects", headers=_as(token))
    assert mine.status_code == 200
    (project,) = [x for x in mine.json()["projects"] if x["id"] == api.project]
    assert project["name"] == api.demo["project_name"] and project["enabled"] is True
    _keystone_error(anon.get("/v3/users/someone-else/projects", headers=_as(token)), 403)
    domains = anon.get("/v3/auth/domains", headers=_as(token)).json()["domains"]
    assert [d["name"] for d in domains] == [api.demo["domain_name"]]
    for path in ("/v3/auth/catalog", "/v3/auth/projects", "/v3/auth/domains"):
        _keystone_error(anon.get(path), 401)


def test_tokens_are_stored_only_as_digests(api: Api) -> None:
    scoped, unscoped = _token(api), _token(api, scoped=False)
    container = api.client.app.state.container  # type: ignore[attr-defined]
    from sqlalchemy import text

    with container.uow_factory(write=False) as uow:
        rows = uow.conn.execute(text("SELECT * FROM auth_tokens")).all()
    dump = repr(rows)
    assert rows and scoped not in dump and unscoped not in dump
