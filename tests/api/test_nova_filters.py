"""Nova's server lists answer their filters (image, flavor, ip, ip6, status, name as a regular
expression, changes-since) from the same read model as ECS, refuse ``host`` (an
administrator's filter) and refuse a filter they do not support instead of ignoring it."""

from __future__ import annotations

from typing import Any

from tests.api.test_create_rules import body, create
from tests.api.test_nova import _fault, _nova
from tests.conftest import Api


def _ids(api: Api, query: str, detail: bool = True) -> set[str]:
    path = "/servers/detail" if detail else "/servers"
    resp = _nova(api, "GET", f"{path}?{query}", "2.60")
    assert resp.status_code == 200, resp.text
    return {s["id"] for s in resp.json()["servers"]}


def _create(api: Api, **over: Any) -> list[str]:
    resp = create(api, body(api, **over))
    assert resp.status_code == 200, resp.text
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    return list(resp.json()["serverIds"])


def test_image_flavor_and_ip_filters_select_the_right_servers(api: Api) -> None:
    d = api.demo
    everyone = _ids(api, "")
    alt = _create(api, imageRef=d["images"]["alt"], flavorRef="s6.medium.2", name="alt")
    assert _ids(api, f"image={d['images']['alt']}") == set(alt)
    # An image link names the image by its last part, as Nova accepts it.
    assert _ids(api, f"image=http://x/images/{d['images']['alt']}", detail=False) == set(alt)
    assert _ids(api, "flavor=s6.medium.2") == set(alt)
    assert _ids(api, "image=00000000-0000-0000-0000-000000000000") == set()
    ip = api.server(alt[0])["addresses"][d["vpc_id"]][0]["addr"]
    assert _ids(api, f"ip={ip}") == {alt[0]}
    assert _ids(api, "status=ACTIVE&flavor=s6.medium.2") == set(alt)
    assert _ids(api, "") == everyone | set(alt)


def test_name_is_a_regular_expression(api: Api) -> None:
    d = api.demo["servers"]
    assert _ids(api, "name=^demo-(running|stopped)$") == {d["running"], d["stopped"]}
    assert _ids(api, "name=running") == {d["running"]}  # a search, not a full match
    assert _ids(api, "name=^running") == set()
    message = _fault(_nova(api, "GET", "/servers?name=demo-(["), "badRequest", 400)
    assert "regular expression" in message


def test_changes_since_ip6_and_host(api: Api) -> None:
    everyone = _ids(api, "")
    assert everyone and _ids(api, "changes-since=2000-01-01T00:00:00Z") == everyone
    assert _ids(api, "changes-since=2999-01-01T00:00:00+00:00") == set()
    _fault(_nova(api, "GET", "/servers?changes-since=yesterday"), "badRequest", 400)
    sid = api.demo["servers"]["running"]
    stamp = _nova(api, "GET", f"/servers/{sid}").json()["server"]["updated"]
    renamed = _nova(api, "PUT", f"/servers/{sid}", json={"server": {"name": "touched"}})
    assert renamed.status_code == 200, renamed.text
    assert sid in _ids(api, f"changes-since={stamp}")
    assert _ids(api, "ip6=fe80::1") == set()  # fixed addresses are IPv4 only
    _fault(_nova(api, "GET", "/servers/detail?host=h1"), "forbidden", 403)


def test_unsupported_filters_are_refused_not_ignored(api: Api) -> None:
    for query in ("changes-before=2026-01-01T00:00:00Z", "tags=a", "foo=bar"):
        message = _fault(_nova(api, "GET", f"/servers/detail?{query}"), "badRequest", 400)
        assert query.split("=")[0] in message
    _fault(_nova(api, "GET", "/servers?deleted=true"), "badRequest", 400)
    _fault(_nova(api, "GET", "/servers?all_tenants=1"), "badRequest", 400)
    _fault(_nova(api, "GET", "/servers?limit=-1"), "badRequest", 400)
    # What clients send by default asks for nothing ecslite lacks.
    assert _ids(api, "deleted=False&all_tenants=false") == _ids(api, "")


def test_the_next_link_keeps_the_filters(api: Api) -> None:
    resp = _nova(api, "GET", "/servers?status=SHUTOFF&limit=1", "2.60")
    link = resp.json()["servers_links"][0]["href"]
    assert "status=SHUTOFF" in link and "limit=1" in link and "marker=" in link
