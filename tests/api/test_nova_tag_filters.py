"""Nova's tag filters on the server lists (2.26+: ``tags`` all of, ``tags-any`` one of,
``not-tags`` not all of, ``not-tags-any`` none of; comma-separated) and ``tags`` in the create
body (2.52+); below those microversions both are refused (400), never ignored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_nova import _fault, _nova
from tests.api.test_nova_server_writes import _body as nova_body
from tests.conftest import Api


def _tag(api: Api, sid: str, *tags: str) -> None:
    resp = _nova(api, "PUT", f"/servers/{sid}/tags", "2.26", json={"tags": list(tags)})
    assert resp.status_code == 200, resp.text


def _ids(api: Api, query: str, version: str = "2.26", detail: bool = False) -> set[str]:
    path = "/servers/detail" if detail else "/servers"
    resp = _nova(api, "GET", f"{path}?{query}", version)
    assert resp.status_code == 200, resp.text
    return {s["id"] for s in resp.json()["servers"]}


@pytest.fixture
def tagged(api: Api) -> dict[str, str]:
    """Two of the demo project's servers tagged: ``a`` {a, b}, ``b`` {b, c}; the rest untagged."""
    servers = dict(api.demo["servers"])
    ids = sorted(servers.values())
    assert len(ids) >= 2
    names = {"a": ids[0], "b": ids[1]}
    _tag(api, names["a"], "a", "b")
    _tag(api, names["b"], "b", "c")
    assert _ids(api, "") - set(names.values())  # some stay untagged
    return names


def test_each_filter_has_novas_meaning(api: Api, tagged: dict[str, str]) -> None:
    a, b = tagged["a"], tagged["b"]
    every = _ids(api, "")
    untagged = every - {a, b}
    assert _ids(api, "tags=b") == {a, b}
    assert _ids(api, "tags=a,b") == {a}  # all of them
    assert _ids(api, "tags=a,c") == set()
    assert _ids(api, "tags-any=a,c") == {a, b}  # one of them
    assert _ids(api, "tags-any=zz") == set()
    assert _ids(api, "not-tags=a,b") == every - {a}  # not all of them
    assert _ids(api, "not-tags=b") == untagged
    assert _ids(api, "not-tags-any=a,c") == untagged  # none of them
    # Filters combine (and with the others); the detail list filters alike.
    assert _ids(api, "tags=b&not-tags-any=c", detail=True) == {a}
    assert _ids(api, "tags-any=a,c&not-tags=c") == {a}
    # Empty items of the list ask nothing.
    assert _ids(api, "tags=a,,b,") == {a}


def test_tag_filters_page_with_a_marker(api: Api, tagged: dict[str, str]) -> None:
    first = _nova(api, "GET", "/servers?tags=b&limit=1", "2.26").json()
    assert len(first["servers"]) == 1
    link = first["servers_links"][0]["href"]
    assert "tags=b" in link
    marker = first["servers"][0]["id"]
    rest = _ids(api, f"tags=b&marker={marker}")
    assert rest | {marker} == {tagged["a"], tagged["b"]} and marker not in rest


@pytest.mark.parametrize("key", ["tags", "tags-any", "not-tags", "not-tags-any"])
def test_tag_filters_need_2_26(api: Api, key: str) -> None:
    message = _fault(_nova(api, "GET", f"/servers?{key}=a", "2.25"), "badRequest", 400)
    assert key in message and "2.26" in message


def _create(api: Api, version: str, **server: Any) -> Any:
    return _nova(api, "POST", "/servers", version, json=nova_body(api, **server))


def test_create_with_tags_from_2_52(api: Api) -> None:
    resp = _create(api, "2.52", tags=["web", "eu", "web"])
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    shown = _nova(api, "GET", f"/servers/{sid}", "2.52").json()["server"]
    assert shown["tags"] == ["web", "eu"]
    assert _ids(api, "tags=web,eu") == {sid}
    assert _nova(api, "GET", f"/servers/{sid}/tags", "2.26").json() == {"tags": ["web", "eu"]}


@pytest.mark.parametrize(
    ("version", "tags"),
    [("2.51", ["web"]), ("2.52", ["a/b"]), ("2.52", ["a,b"]), ("2.52", [""]),
     ("2.52", ["t" * 61]), ("2.52", [f"t{i}" for i in range(51)]), ("2.52", "web"),
     ("2.52", [1])],
)  # fmt: skip
def test_create_refuses_bad_tags(api: Api, version: str, tags: Any) -> None:
    before = _ids(api, "", "2.60")
    _fault(_create(api, version, tags=tags), "badRequest", 400)
    assert _ids(api, "", "2.60") == before  # nothing was created
