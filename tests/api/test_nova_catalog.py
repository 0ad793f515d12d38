"""Nova's flavors, limits and availability zones: the ECS catalogue and quotas in Nova's shapes."""

from __future__ import annotations

from tests.api.test_nova import _fault, _nova
from tests.conftest import Api


def test_flavors_list_detail_and_show_match_the_ecs_catalogue(api: Api) -> None:
    ecs = {
        f["id"]: f
        for f in api.client.get(f"/v1/{api.project}/cloudservers/flavors").json()["flavors"]
    }
    listed = _nova(api, "GET", "/flavors", "2.60").json()["flavors"]
    assert {f["id"] for f in listed} == set(ecs)
    assert set(listed[0]) == {"id", "name", "links", "description"}
    assert set(_nova(api, "GET", "/flavors", "2.54").json()["flavors"][0]) == {
        "id",
        "name",
        "links",
    }
    for f in _nova(api, "GET", "/flavors/detail").json()["flavors"]:
        assert (str(f["vcpus"]), f["ram"], str(f["disk"])) == (
            ecs[f["id"]]["vcpus"],
            ecs[f["id"]]["ram"],
            ecs[f["id"]]["disk"],
        )
        assert f["os-flavor-access:is_public"] is True and f["OS-FLV-EXT-DATA:ephemeral"] == 0
    shown = _nova(api, "GET", "/flavors/s6.large.4").json()["flavor"]
    assert (shown["vcpus"], shown["ram"]) == (2, 8192)
    _fault(_nova(api, "GET", "/flavors/nope"), "itemNotFound", 404)


def test_flavor_filters_and_paging(api: Api) -> None:
    big = _nova(api, "GET", "/flavors/detail?minRam=8192").json()["flavors"]
    assert big and all(f["ram"] >= 8192 for f in big)
    assert _nova(api, "GET", "/flavors?is_public=false").json()["flavors"] == []
    page = _nova(api, "GET", "/flavors?limit=2").json()
    assert len(page["flavors"]) == 2 and "marker=" in page["flavors_links"][0]["href"]
    after = _nova(api, "GET", f"/flavors?marker={page['flavors'][1]['id']}").json()["flavors"]
    assert page["flavors"][1]["id"] not in {f["id"] for f in after}
    _fault(_nova(api, "GET", "/flavors?marker=nope"), "badRequest", 400)
    _fault(_nova(api, "GET", "/flavors?minRam=lots"), "badRequest", 400)
    _fault(_nova(api, "GET", "/flavors?foo=1"), "badRequest", 400)


def test_limits_are_the_projects_quotas_and_usage(api: Api) -> None:
    ecs = api.client.get(f"/v1/{api.project}/cloudservers/limits").json()["absolute"]
    nova = _nova(api, "GET", "/limits", "2.1").json()["limits"]
    assert nova["rate"] == []
    for key in ("maxTotalInstances", "maxTotalCores", "maxTotalRAMSize", "totalInstancesUsed"):
        assert nova["absolute"][key] == ecs[key]
    assert "maxTotalFloatingIps" in nova["absolute"] and "maxPersonality" in nova["absolute"]
    latest = _nova(api, "GET", "/limits", "2.60").json()["limits"]["absolute"]
    assert "maxTotalFloatingIps" not in latest and "maxPersonality" not in latest
    assert not any("Spot" in k for k in latest)
    _fault(_nova(api, "GET", "/limits?tenant_id=x"), "badRequest", 400)


def test_the_one_availability_zone(api: Api) -> None:
    zones = _nova(api, "GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "eu-de-01", "zoneState": {"available": True}, "hosts": None}]


def test_zone_details_are_an_administrators(api: Api) -> None:
    _fault(_nova(api, "GET", "/os-availability-zone/detail"), "forbidden", 403)


def test_flavors_have_no_extra_specs(api: Api) -> None:
    assert _nova(api, "GET", "/flavors/s6.small.1/os-extra_specs").json() == {"extra_specs": {}}
    _fault(_nova(api, "GET", "/flavors/s6.small.1/os-extra_specs/hw:cpu"), "itemNotFound", 404)
    _fault(_nova(api, "GET", "/flavors/nope/os-extra_specs"), "itemNotFound", 404)
