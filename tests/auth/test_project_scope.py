"""Tenancy: every route is enumerated from the app itself, so a new route cannot skip these
checks. For each one:

- without credentials it answers 401;
- a project in the URL that the credential does not cover answers the documented mismatch error,
  the same for another account's project and for one that does not exist;
- inside the caller's own project, another account's server, job or key pair answers exactly
  like one that does not exist, and nothing of the other account leaks into any response.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from fastapi.testclient import TestClient

from ecslite.api.app import create_app
from ecslite.api.nova.faults import is_nova_path
from ecslite.auth.httpx_auth import SdkHmacAuth, TokenAuth
from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.console import CONSOLE
from ecslite.demo import ensure_demo
from ecslite.services.keypairs import generate_keypair
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument, apply_seed
from tests.auth.conftest import error_of, password_login
from tests.conftest import SeededTemplate

PUBLIC_KEY = generate_keypair()[0]
Body = Callable[[dict[str, str]], Any] | None

# Every authenticated route, with the body it needs given the resource ids (r) under test.
ROUTES: dict[tuple[str, str], Body] = {
    ("POST", "/v2/{project_id}/cloudservers/{server_id}/reinstallos"): lambda r: {
        "os-reinstall": {"adminpass": "Cross-Proj-9x"}
    },
    ("GET", "/v1/{project_id}/jobs/{job_id}"): None,
    ("GET", "/image/v1/{project_id}/jobs/{job_id}"): None,
    # Called with ?job_id= (see QUERY): unfiltered, the caller's own stream would never end.
    ("GET", "/v1/{project_id}/events"): None,
    ("GET", "/v1/{project_id}/cloudservers/detail"): None,
    ("GET", "/v2/{project_id}/cloudvolumes/detail"): None,
    ("GET", "/v2/{project_id}/cloudvolumes/{volume_id}"): None,
    ("DELETE", "/v2/{project_id}/cloudvolumes/{volume_id}"): None,
    ("GET", "/v1/{project_id}/cloudservers/{server_id}"): None,
    ("POST", "/v1/{project_id}/cloudservers/action"): lambda r: {
        "os-stop": {"servers": [{"id": r["server_id"]}], "type": "HARD"}
    },
    ("GET", "/v2.1/{project_id}/os-keypairs"): None,
    ("POST", "/v2.1/{project_id}/os-keypairs"): lambda r: {
        "keypair": {"name": r["keypair_name"], "public_key": PUBLIC_KEY}
    },
    ("GET", "/v2.1/{project_id}/os-keypairs/{keypair_name}"): None,
    ("DELETE", "/v2.1/{project_id}/os-keypairs/{keypair_name}"): None,
    ("GET", "/v1/{project_id}/cloudservers/{server_id}/console-output"): None,
    ("POST", "/v2.1/{project_id}/servers/{server_id}/action"): lambda r: {
        "os-getConsoleOutput": {"length": 10}
    },
    ("GET", "/v2.1/{project_id}/servers"): None,
    ("GET", "/v2.1/{project_id}/flavors"): None,
    ("GET", "/v2.1/{project_id}/flavors/detail"): None,
    ("GET", "/v2.1/{project_id}/flavors/{flavor_id}"): None,
    ("GET", "/v2.1/{project_id}/flavors/{flavor_id}/os-extra_specs"): None,
    ("GET", "/v2.1/{project_id}/flavors/{flavor_id}/os-extra_specs/{key}"): None,
    ("GET", "/v2.1/{project_id}/limits"): None,
    ("GET", "/v2.1/{project_id}/os-availability-zone"): None,
    ("GET", "/v2.1/{project_id}/os-availability-zone/detail"): None,
    ("GET", "/v2.1/{project_id}/servers/detail"): None,
    ("GET", "/v2.1/{project_id}/images"): None,
    ("GET", "/v2.1/{project_id}/images/detail"): None,
    ("GET", "/v2.1/{project_id}/images/{image_id}"): None,
    ("DELETE", "/v2.1/{project_id}/images/{image_id}"): None,
    ("GET", "/v2.1/{project_id}/images/{image_id}/metadata"): None,
    ("POST", "/v2.1/{project_id}/images/{image_id}/metadata"): lambda r: {"metadata": {"k": "v"}},
    ("PUT", "/v2.1/{project_id}/images/{image_id}/metadata"): lambda r: {"metadata": {"k": "v"}},
    ("GET", "/v2.1/{project_id}/images/{image_id}/metadata/{key}"): None,
    ("PUT", "/v2.1/{project_id}/images/{image_id}/metadata/{key}"): lambda r: {
        "meta": {r["key"]: "v"}
    },
    ("DELETE", "/v2.1/{project_id}/images/{image_id}/metadata/{key}"): None,
    # Another project's quota set answers like one that does not exist: 403 (Nova's policy).
    ("GET", "/v2.1/{project_id}/os-quota-sets/{tenant_id}"): None,
    ("GET", "/v2.1/{project_id}/os-quota-sets/{tenant_id}/detail"): None,
    ("GET", "/v2.1/{project_id}/os-quota-sets/{tenant_id}/defaults"): None,
    ("PUT", "/v2.1/{project_id}/os-quota-sets/{tenant_id}"): lambda r: {"quota_set": {}},
    ("DELETE", "/v2.1/{project_id}/os-quota-sets/{tenant_id}"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}"): None,
    # A Nova create naming another account's key pair answers like one naming a missing one.
    ("POST", "/v2.1/{project_id}/servers"): lambda r: {
        "server": {
            "name": "cross",
            "imageRef": r["own_image_id"],
            "flavorRef": "s6.small.1",
            "networks": [{"uuid": r["subnet_id"]}],
            "key_name": r["keypair_name"],
        }
    },
    ("PUT", "/v2.1/{project_id}/servers/{server_id}"): lambda r: {"server": {"name": "x"}},
    ("DELETE", "/v2.1/{project_id}/servers/{server_id}"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/os-instance-actions"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/metadata"): None,
    ("PUT", "/v2.1/{project_id}/servers/{server_id}/metadata"): lambda r: {"metadata": {"a": "b"}},
    ("POST", "/v2.1/{project_id}/servers/{server_id}/metadata"): lambda r: {"metadata": {"a": "b"}},
    ("GET", "/v2.1/{project_id}/servers/{server_id}/metadata/{key}"): None,
    ("PUT", "/v2.1/{project_id}/servers/{server_id}/metadata/{key}"): lambda r: {
        "meta": {r["key"]: "v"}
    },
    ("DELETE", "/v2.1/{project_id}/servers/{server_id}/metadata/{key}"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/tags"): None,
    ("PUT", "/v2.1/{project_id}/servers/{server_id}/tags"): lambda r: {"tags": ["a"]},
    ("DELETE", "/v2.1/{project_id}/servers/{server_id}/tags"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/tags/{tag}"): None,
    ("PUT", "/v2.1/{project_id}/servers/{server_id}/tags/{tag}"): None,
    ("DELETE", "/v2.1/{project_id}/servers/{server_id}/tags/{tag}"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/ips"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/ips/{network}"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/os-server-password"): None,
    ("DELETE", "/v2.1/{project_id}/servers/{server_id}/os-server-password"): None,
    ("GET", "/v2.1/{project_id}/servers/{server_id}/os-instance-actions/{request_id}"): None,
    ("GET", "/v2/{project_id}/os-keypairs"): None,
    ("POST", "/v2/{project_id}/os-keypairs"): lambda r: {
        "keypair": {"name": r["keypair_name"], "public_key": PUBLIC_KEY}
    },
    ("GET", "/v2/{project_id}/os-keypairs/{keypair_name}"): None,
    ("DELETE", "/v2/{project_id}/os-keypairs/{keypair_name}"): None,
    # Glance's paths name no project: the credential's own is the scope.
    ("GET", "/image/v2/images"): None,
    ("GET", "/image/v2/images/{image_id}"): None,
    ("POST", "/image/v2/images"): lambda r: {"name": "scoped"},
    ("PATCH", "/image/v2/images/{image_id}"): None,
    ("DELETE", "/image/v2/images/{image_id}"): None,
    ("PUT", "/image/v2/images/{image_id}/file"): None,
    ("PUT", "/image/v2/images/{image_id}/tags/{tag}"): None,
    ("DELETE", "/image/v2/images/{image_id}/tags/{tag}"): None,
    # Keystone's reads around a token name no project either (tests/api/test_keystone_tokens.py).
    ("GET", "/v3/auth/catalog"): None,
    ("GET", "/v3/auth/projects"): None,
    ("GET", "/v3/auth/domains"): None,
    ("GET", "/v3/users/{user_id}/projects"): None,
    ("GET", "/v1/{project_id}/cloudservers/flavors"): None,
    ("GET", "/v1/{project_id}/cloudservers/limits"): None,
    ("GET", "/v2/cloudimages"): None,
    ("GET", "/image/v2/cloudimages"): None,
    ("GET", "/v2/images/{image_id}"): None,
    # A create naming another account's key pair answers like one naming a missing key pair.
    ("POST", "/v1/{project_id}/cloudservers"): lambda r: _create_body(r),
    ("POST", "/v1.1/{project_id}/cloudservers"): lambda r: _create_body(r),
    ("POST", "/v1/{project_id}/cloudservers/delete"): lambda r: {
        "servers": [{"id": r["server_id"]}]
    },
    ("POST", "/v2/{project_id}/cloudservers/{server_id}/changeos"): lambda r: {
        "os-change": {"adminpass": "Cross-Proj-9x", "imageid": r["own_image_id"]}
    },
    ("POST", "/v1/{project_id}/cloudservers/{server_id}/reinstallos"): lambda r: {
        "os-reinstall": {"adminpass": "Cross-Proj-9x"}
    },
    ("POST", "/v1/{project_id}/cloudservers/{server_id}/changeos"): lambda r: {
        "os-change": {"adminpass": "Cross-Proj-9x", "imageid": r["own_image_id"]}
    },
    ("PUT", "/v1/{project_id}/cloudservers/{server_id}/os-reset-password"): lambda r: {
        "reset-password": {"new_password": "Cross-Proj-9x"}
    },
    ("PUT", "/v1/{project_id}/cloudservers/os-reset-passwords"): lambda r: {
        "new_password": "Cross-Proj-9x",
        "servers": [{"id": r["server_id"]}],
    },
    ("GET", "/v1/{project_id}/cloudservers/{server_id}/os-resetpwd-flag"): None,
    ("GET", "/v1/{project_id}/cloudservers/{server_id}/os-server-password"): None,
    ("DELETE", "/v1/{project_id}/cloudservers/{server_id}/os-server-password"): None,
    ("POST", "/v1/{project_id}/cloudservers/{server_id}/remote_console"): lambda r: {
        "remote_console": {"type": "novnc", "protocol": "vnc"}
    },
    ("POST", "/v2.1/{project_id}/servers/{server_id}/remote-consoles"): lambda r: {
        "remote_console": {"type": "novnc", "protocol": "vnc"}
    },
}
# /console authenticates by its session cookie, not the API's credentials: its routes are
# enumerated and checked the same way in tests/api/test_console_web.py.
UNAUTHENTICATED_PREFIXES = (
    "/_ecslite/admin",
    "/v3/auth/tokens",
    "/docs",
    "/redoc",
    "/openapi",
    "/console",
)
# keystoneauth reads these version documents before it has a token.
DISCOVERY_PATHS = {
    "/",
    "/v3",
    "/v3/",
    "/v2.1",
    "/v2.1/",
    "/image",
    "/image/",
    "/compute",
    "/compute/",
}
MISMATCH = {
    "/v1/{project_id}/jobs/{job_id}": "Common.0018",
    "/image/v1/{project_id}/jobs/{job_id}": "Common.0018",
    "/v1/{project_id}/events": "Common.0018",
    "/v2/{project_id}/cloudvolumes/detail": "Common.0018",
    "/v2/{project_id}/cloudvolumes/{volume_id}": "Common.0018",
}
QUERY = {"/v1/{project_id}/events": "job_id"}


def _create_body(r: dict[str, str]) -> dict[str, Any]:
    return {
        "server": {
            "name": "cross",
            "imageRef": r["own_image_id"],
            "flavorRef": "s6.small.1",
            "vpcid": r["vpc_id"],
            "nics": [{"subnet_id": r["subnet_id"]}],
            "key_name": r["keypair_name"],
        }
    }


class World:
    def __init__(self, app: FastAPI, client: TestClient, demo: dict[str, Any]) -> None:
        self.app = app
        self.client = client
        self.demo = demo
        self.project = demo["project_id"]
        o = demo["other_project"]
        self.other = o
        self.other_auth = SdkHmacAuth(o["access_key"], o["secret_key"], o["project_id"])
        # The other account owns a key pair and a job; remember what would betray them.
        kp = client.post(
            f"/v2.1/{o['project_id']}/os-keypairs",
            auth=self.other_auth,
            json={"keypair": {"name": "other-key"}},
        )
        assert kp.status_code == 200, kp.text
        # A private image of the other account (the demo's images are public).
        other_image = str(uuid.uuid4())
        apply_seed(
            SeedDocument.model_validate(
                {
                    "images": [
                        {"id": other_image, "name": "other-private", "project_id": o["project_id"]}
                    ]
                }
            ),
            uow_factory=app.state.container.uow_factory,
            box=app.state.secret_box,
            clock=app.state.container.clock,
        )
        job = client.post(
            f"/v2/{o['project_id']}/cloudservers/{o['servers']['stopped']}/reinstallos",
            auth=self.other_auth,
            json={"os-reinstall": {"adminpass": "Other-Acct-7y"}},
        )
        assert job.status_code == 200, job.text
        self.foreign = {
            "server_id": o["servers"]["stopped"],
            "job_id": job.json()["job_id"],
            "request_id": job.json()["job_id"],
            "keypair_name": "other-key",
            "user_id": o["user_id"],
            "tenant_id": o["project_id"],
            "tag": "t",
            "key": "k",
            "network": "n",
            "image_id": other_image,
            "volume_id": self._volume_of(o["project_id"]),
            **self._own_catalogue(),
        }
        self.secrets_of_other = [
            kp.json()["keypair"]["fingerprint"],
            kp.json()["keypair"]["public_key"],
            "other-stopped",
            o["user_id"],
            o["project_id"],
        ]

    def _volume_of(self, project_id: str) -> str:
        """One of the other account's volumes, as it lists them."""
        resp = self.client.get(f"/v2/{project_id}/cloudvolumes/detail", auth=self.other_auth)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["volumes"][0]["id"])

    def _own_catalogue(self) -> dict[str, str]:
        # Public image, VPC and subnet of the caller: only the key pair differs in a create.
        # Flavors belong to no project: both sides name one that does not exist.
        return {
            "own_image_id": self.demo["images"]["alt"],
            "vpc_id": self.demo["vpc_id"],
            "subnet_id": self.demo["subnet_id"],
            "flavor_id": "no-such-flavor",
            "key": "hw:cpu_policy",
        }

    def missing(self) -> dict[str, str]:
        return {
            "server_id": str(uuid.uuid4()),
            "job_id": uuid.uuid4().hex,
            "request_id": uuid.uuid4().hex,
            "keypair_name": f"missing-{uuid.uuid4().hex[:8]}",
            "user_id": uuid.uuid4().hex,
            "tenant_id": uuid.uuid4().hex,
            "tag": "t",
            "key": "k",
            "network": "n",
            "image_id": str(uuid.uuid4()),
            "volume_id": str(uuid.uuid4()),
            **self._own_catalogue(),
        }


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, seeded_template: SeededTemplate
) -> Iterator[World]:
    data = tmp_path_factory.mktemp("scope") / "data"
    # A copy of the session's migrated store with the demo tenant (tests/conftest.py).
    for database_url in seeded_template.copy(data):
        # Identical signed requests repeat here on purpose (each route with each credential,
        # clean-up deletes); replay refusal is tested against real processes (test_replay.py).
        settings = Settings(
            data_dir=data,
            database_url=database_url,
            enable_admin=True,
            refuse_replayed_signatures=False,
        )
        container = build(settings)
        box = SecretBox.from_file(data / "master.key")
        demo, doc = ensure_demo(data, "http://testserver")
        app = create_app(
            container, secret_box=box, enable_admin=True, reset_seeds=[doc], mounts=[CONSOLE]
        )
        # The runner stays stopped: jobs remain as accepted, which is all these checks need.
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield World(app, client, demo)
        finally:
            container.close()


def _all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, including those of included routers."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x
    contexts = list(flatten(app.routes)) if flatten else list(app.routes)
    out = []
    for ctx in contexts:
        if isinstance(getattr(ctx, "route", ctx), APIWebSocketRoute):
            # The remote console's WebSocket (under /console): its one-time token is its
            # credential, checked in tests/api/test_remote_console_relay.py.
            assert str(getattr(ctx, "path", "")).startswith("/console/"), ctx
            continue
        path, methods = getattr(ctx, "path", None), getattr(ctx, "methods", None)
        assert path is not None and methods, f"route without path or methods: {ctx!r}"
        out += [(m, path) for m in sorted(methods) if m != "HEAD"]
    # The OpenAPI document lists routes independently: it must not know one we missed.
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            assert (method.upper(), path) in out, (method, path)
    return out


def _routes(world: World) -> list[tuple[str, str]]:
    return [
        r
        for r in _all_routes(world.app)
        if not r[1].startswith(UNAUTHENTICATED_PREFIXES) and r[1] not in DISCOVERY_PATHS
    ]


def test_every_route_is_covered_here(world: World) -> None:
    found = set(_routes(world))
    assert found, "no routes found"
    missing = found - set(ROUTES)
    assert not missing, f"add these routes to ROUTES in {Path(__file__).name}: {sorted(missing)}"
    assert set(ROUTES) <= found, f"stale entries in ROUTES: {sorted(set(ROUTES) - found)}"


def _call(
    world: World,
    method: str,
    template: str,
    project: str,
    r: dict[str, str],
    auth: httpx.Auth | None,
) -> httpx.Response:
    path = template.replace("{project_id}", project)
    for name, value in r.items():
        if name in ("vpc_id", "subnet_id", "own_image_id"):
            continue  # body-only ids
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    make = ROUTES[(method, template)]
    kwargs: dict[str, Any] = {"auth": auth} if auth else {}
    if template in QUERY:
        kwargs["params"] = {QUERY[template]: r[QUERY[template]]}
    if make is not None:
        kwargs["json"] = make(r)
    return world.client.request(method, path, **kwargs)


def _credentials(world: World) -> dict[str, httpx.Auth]:
    d = world.demo
    tok = world.client.post("/v3/auth/tokens", json=password_login(d))
    assert tok.status_code == 201, tok.text
    return {
        "aksk": SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"]),
        "aksk-no-project-header": SdkHmacAuth(d["access_key"], d["secret_key"], None),
        "token": TokenAuth(tok.headers["X-Subject-Token"]),
    }


def _normalised(resp: httpx.Response, ids: dict[str, str]) -> tuple[int, Any]:
    text = resp.text
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    if resp.status_code >= 400:
        return resp.status_code, text
    body = resp.json() if resp.content else None
    return resp.status_code, sorted(body) if isinstance(body, dict) else body


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_requires_credentials(world: World, route: tuple[str, str]) -> None:
    resp = _call(world, *route, world.project, world.missing(), auth=None)
    assert resp.status_code == 401
    assert "WWW-Authenticate" in resp.headers
    path = route[1]
    if is_nova_path(path):  # each API refuses in its own envelope
        assert resp.json()["unauthorized"]["code"] == 401
    elif path.startswith("/v3/"):
        assert resp.json()["error"]["title"] == "Unauthorized"
    else:
        assert error_of(resp)["code"] == "Common.0013"


@pytest.mark.parametrize("cred", ["aksk", "aksk-no-project-header", "token"])
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_foreign_project_in_url_is_a_mismatch(
    world: World, route: tuple[str, str], cred: str
) -> None:
    method, template = route
    if "{project_id}" not in template:
        pytest.skip("no project in this URL")
    auth = _credentials(world)[cred]
    expected = MISMATCH.get(template, "Ecs.0023")
    # The other account's own resources, addressed under its own project.
    foreign = _call(world, method, template, world.other["project_id"], world.foreign, auth)
    assert foreign.status_code == 400, foreign.text
    if is_nova_path(template):
        # Nova's routes answer in Nova's envelope, with the same message.
        assert foreign.json()["badRequest"]["message"].startswith("project_id in token")
    else:
        assert error_of(foreign)["code"] == expected
    unknown = _call(world, method, template, uuid.uuid4().hex, world.foreign, auth)
    assert (unknown.status_code, unknown.json()) == (foreign.status_code, foreign.json())


@pytest.mark.parametrize("cred", ["aksk", "token"])
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_foreign_resource_answers_like_a_missing_one(
    world: World, route: tuple[str, str], cred: str
) -> None:
    auth = _credentials(world)[cred]
    method, template = route
    missing = world.missing()
    got_foreign = _call(world, method, template, world.project, world.foreign, auth)
    got_missing = _call(world, method, template, world.project, missing, auth)
    assert _normalised(got_foreign, world.foreign) == _normalised(got_missing, missing), (
        got_foreign.text,
        got_missing.text,
    )
    for marker in world.secrets_of_other:
        assert marker not in got_foreign.text
    if method == "POST" and template.endswith("/os-keypairs"):
        # Creating a key pair under a name another account uses is allowed: clean up.
        for name in (world.foreign["keypair_name"], missing["keypair_name"]):
            world.client.delete(f"/v2.1/{world.project}/os-keypairs/{name}", auth=auth)


def test_other_account_is_untouched(world: World) -> None:
    o = world.other
    kp = world.client.get(f"/v2.1/{o['project_id']}/os-keypairs/other-key", auth=world.other_auth)
    assert kp.status_code == 200
    srv = world.client.get(
        f"/v1/{o['project_id']}/cloudservers/{o['servers']['stopped']}", auth=world.other_auth
    )
    assert srv.json()["server"]["OS-EXT-STS:task_state"] == "rebuilding"  # only its own job
    job = world.client.get(
        f"/v1/{o['project_id']}/jobs/{world.foreign['job_id']}", auth=world.other_auth
    )
    assert job.status_code == 200


def test_reinstall_userid_must_be_of_the_same_account(world: World) -> None:
    d = world.demo
    auth = _credentials(world)["aksk"]
    url = f"/v2/{d['project_id']}/cloudservers/{d['servers']['stopped']}/reinstallos"

    def attempt(userid: str) -> httpx.Response:
        return world.client.post(
            url,
            auth=auth,
            json={"os-reinstall": {"keyname": d["keypair"]["name"], "userid": userid}},
        )

    foreign, missing = attempt(world.other["user_id"]), attempt(uuid.uuid4().hex)
    assert foreign.status_code == missing.status_code == 400
    assert error_of(foreign) == error_of(missing)
    assert error_of(foreign)["code"] == "Ecs.0314"


def test_unauthenticated_routes_are_only_login_docs_and_admin(world: World) -> None:
    for _, path in _all_routes(world.app):
        if path.startswith(UNAUTHENTICATED_PREFIXES):
            assert re.match(r"^/(_ecslite/admin|v3/auth/tokens|docs|redoc|openapi|console)", path)
