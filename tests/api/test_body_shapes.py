"""No body shape is a 5xx (issue 24). The routes come from the app itself: every route that
reads a JSON body declares its model (``api.openapi.json_body``, hidden routes too), and for each
one hypothesis replaces one member of a well-formed skeleton built from that model's schema with
null, a value of another type, or nothing, or keeps it alone among its siblings (one member of
a union such as Nova's actions), or sends a body that is not an object, not JSON, or nested
deeper than a parser recurses; every other POST/PUT/PATCH route gets two such bodies. Every
answer must be below 500 and, when it is a refusal, in the envelope of the path's API (ECS,
Nova and Glance, Keystone). A route added later is covered without editing this file; one that
reads a body without declaring it fails ``test_every_route_that_reads_a_body_declares_it``.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ecslite.api.envelopes import api_of
from ecslite.api.openapi import declared_body
from ecslite.console.session import CSRF_HEADER, SESSION_COOKIE, csrf_for
from tests.conftest import Api

# Besides the wrong types: integers past 64 bits, strings a database or an encoder may refuse
# (NUL, a lone surrogate) and a long one.
WRONG: list[Any] = [
    None,
    0,
    -1,
    2**63,
    -(2**64),
    1.5,
    1e308,
    "",
    "x",
    "\x00",
    "\ud800",
    "x" * 5000,
    True,
    [],
    [None],
    {},
    {"a": None},
]
NOT_AN_OBJECT: list[Any] = [None, 0, "x", [], [{}], True]
# Raw bodies: not JSON, not UTF-8, nested past any recursion limit, and valid JSON nested just
# below Python's default one (each layer of code that walks it recursively could still fail).
RAW: list[bytes] = [
    b"{",
    b"\xff\xfe{}",
    b"[" * 30000 + b"]" * 30000,
    b'{"a":' * 20000,
    b'{"k":' + b"[" * 900 + b"]" * 900 + b"}",
]
# Bodies that are not JSON at all: the file upload and the console's login and logout forms.
NOT_JSON = {
    "PUT /image/v2/images/{image_id}/file",
    "POST /console/login",
    "POST /console/logout",
}
# Not sent: reads no body, and each call reloads the whole store (seconds, not milliseconds).
SKIPPED = {"POST /_ecslite/admin/reset"}
EXAMPLES = 12


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def skeleton(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A plausible instance of ``schema``: every property present, one item per array."""
    schema = _resolve(schema, defs)
    if depth > 8:
        return None
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, defs).get("type") != "null"]
            return skeleton(options[0], defs, depth + 1) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        out = {k: skeleton(v, defs, depth + 1) for k, v in props.items()}
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict):
            out["k"] = skeleton(extra, defs, depth + 1)  # free-form: one member to mutate
        return out
    if kind == "array":
        return [skeleton(schema.get("items", {}), defs, depth + 1)]
    return {"string": "x", "integer": 1, "number": 1, "boolean": True}.get(str(kind), "x")


def member_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out.extend(member_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append((*prefix, i))
            out.extend(member_paths(v, (*prefix, i)))
    return out


def mutated(base: Any, path: tuple[Any, ...], value: Any, how: str) -> Any:
    """``base`` with the member at ``path`` set to ``value`` ("set"), removed ("delete"), or
    set with the siblings of it and of each of its parents removed ("alone": one branch of a
    union such as Nova's actions, ``{"reboot": {"type": null}}``)."""
    doc = copy.deepcopy(base)
    parent = doc
    for depth, step in enumerate(path):
        if how == "alone" and isinstance(parent, dict):
            kept = parent[step]
            parent.clear()
            parent[step] = kept
        if depth == len(path) - 1:
            break
        parent = parent[step]
    if how == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def envelope_problem(path: str, status: int, body: Any) -> str | None:
    """Why this answer breaks the rule (a 5xx, or a refusal not in the path's envelope)."""
    if status >= 500:
        return f"{status}"
    if status < 400:
        return None
    api = api_of(path)
    try:
        if api == "keystone":
            ok = body["error"]["code"] == status and isinstance(body["error"]["message"], str)
        elif api == "nova":
            (fault,) = body.values()
            ok = fault["code"] == status and isinstance(fault["message"], str)
        else:
            err = body["error"]
            ok = isinstance(err["code"], str) and isinstance(err["message"], str)
    except (KeyError, TypeError, ValueError, AttributeError):
        ok = False
    return None if ok else f"{status} not in the {api} envelope"


@dataclass
class Route:
    method: str
    path: str
    model: type[BaseModel] | None
    media_type: str = "application/json"
    base: Any = None
    paths: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _api_routes(api: Api) -> list[RouteContext]:
    """The app's routes as it serves them (included routers' routes with their prefixes)."""
    app = api.client.app
    contexts = iter_route_contexts(app.routes)  # type: ignore[attr-defined]
    return [c for c in contexts if isinstance(c.original_route, APIRoute)]


def app_routes(api: Api) -> list[Route]:
    """Every POST, PUT and PATCH route of the app, with the body model it declares."""
    out: list[Route] = []
    for r in _api_routes(api):
        for method in sorted((r.methods or set()) & {"POST", "PUT", "PATCH"}):
            declared = declared_body(r)
            route = Route(method, str(r.path), declared[0] if declared else None)
            if declared is not None:
                route.media_type = declared[1]
                schema = route.model.model_json_schema(ref_template="#/$defs/{model}")  # type: ignore[union-attr]
                route.base = skeleton(schema, schema.get("$defs", {}))
                route.paths = member_paths(route.base)
            out.append(route)
    # Routes whose skeleton may succeed and change the demo tenant (delete it, reset it) last.
    return sorted(out, key=lambda r: (r.model is None, "/admin/" in r.path, r.name))


def test_every_route_that_reads_a_body_declares_it(api: Api) -> None:
    """A route reading its body without ``json_body`` would be missed by the test below."""
    reads = re.compile(r"parse_body\(|request\.(json|body|form|stream)\(")
    undeclared = []
    for r in _api_routes(api):
        names = {f"{m} {r.path}" for m in r.methods or ()}
        if names & NOT_JSON:
            continue
        source = inspect.getsource(r.endpoint) if r.endpoint else ""
        if reads.search(source) and declared_body(r) is None:
            undeclared.append(sorted(names))
    assert undeclared == []


def _values(api: Api) -> dict[str, str]:
    d = api.demo
    return {
        "project_id": api.project,
        "tenant_id": api.project,
        "server_id": d["servers"]["stopped"],
        "image_id": d["images"]["cloudinit"],
        "volume_id": d["volumes"]["stopped_data"],
        "keypair_name": d["keypair"]["name"],
    }


def console_headers(api: Api) -> dict[str, str]:
    """A console session of the demo user: its cookie and CSRF header."""
    d = api.demo
    login = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": d["user_name"],
                        "password": d["password"],
                        "domain": {"name": d["domain_name"]},
                    }
                },
            },
            "scope": {"project": {"name": d["project_name"]}},
        }
    }
    resp = api.client.post("/v3/auth/tokens", json=login, auth=None)
    assert resp.status_code == 201, resp.text
    token = resp.headers["X-Subject-Token"]
    return {"cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf_for(token)}


@pytest.fixture
def session(api: Api) -> dict[str, str]:
    return console_headers(api)


def test_the_routes_with_bodies_include_every_door(api: Api) -> None:
    """The discovery finds the bodies of each API, so the test below cannot pass vacuously."""
    declared = {r.name for r in app_routes(api) if r.model is not None}
    for name in [
        "POST /v2/{project_id}/cloudservers/{server_id}/reinstallos",
        "POST /v1/{project_id}/cloudservers",
        "POST /v2.1/{project_id}/servers/{server_id}/action",
        "POST /v2.1/{project_id}/servers",
        "PATCH /image/v2/images/{image_id}",
        "POST /v3/auth/tokens",
        "POST /console/api/servers",
    ]:
        assert name in declared


def _fuzz(api: Api, route: Route, url: str, headers: dict[str, str]) -> list[str]:
    """The answers to ``route``'s bad bodies that break the rule."""
    found: list[str] = []
    anonymous = url.startswith(("/console/", "/v3/auth/"))

    def send(content: bytes) -> None:
        kwargs: dict[str, Any] = {"content": content, "headers": headers}
        if anonymous:
            kwargs["auth"] = None
        resp = api.client.request(route.method, url, **kwargs)
        try:
            payload = resp.json()
        except ValueError:
            payload = resp.text
        problem = envelope_problem(url, resp.status_code, payload)
        if problem:
            found.append(f"{problem}: {content[:200]!r}")

    if route.model is None:
        # A route that declares no body must not read one: two bodies show it does not.
        send(RAW[2])
        send(b"[]")
        return found
    for raw in RAW:
        send(raw)
    for value in NOT_AN_OBJECT:
        send(json.dumps(value).encode())
    send(json.dumps(route.base).encode())
    # Every member of the outer two levels null on its own, whatever hypothesis samples below:
    # the shape of {"reboot": null} and {"server": {"name": null}}.
    for path in route.paths:
        if len(path) <= 2:
            send(json.dumps(mutated(route.base, path, None, "alone")).encode())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
        derandomize=True,
    )
    @given(
        st.sampled_from(route.paths or [()]),
        st.sampled_from(WRONG),
        st.sampled_from(["set", "delete", "alone"]),
    )
    def run(path: tuple[Any, ...], value: Any, how: str) -> None:
        body = value if path == () else mutated(route.base, path, value, how)
        send(json.dumps(body).encode())

    run()
    return found


def test_no_body_shape_is_a_server_error(api: Api, session: dict[str, str]) -> None:
    values = _values(api)
    found: dict[str, list[str]] = {}
    for route in app_routes(api):
        if route.name in NOT_JSON | SKIPPED:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), route.path)
        console = session if url.startswith("/console/") else {}
        problems = _fuzz(api, route, url, {"content-type": route.media_type, **console})
        if problems:
            found[route.name] = problems
    assert found == {}, json.dumps(found, indent=1)
