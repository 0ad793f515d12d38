"""ECS ShowServer and Nova's server document render one read model: wherever they describe the
same fact about a server (flavor, addresses, disks, states, image, owner, lock, host status,
access addresses), they agree.

Checked for every demo server, and for created servers (which have fixed IPs in the demo VPC
and a flavor other than the seeded one), in Nova's detail list as well as its show.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_create_rules import body, create
from tests.conftest import Api


def _ecs(api: Api, sid: str) -> dict[str, Any]:
    return api.server(sid)


def _nova(api: Api, path: str, version: str) -> Any:
    resp = api.client.get(
        f"/v2.1/{api.project}{path}", headers={"OpenStack-API-Version": f"compute {version}"}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _ecs_addresses(s: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (net, a["addr"], a["OS-EXT-IPS-MAC:mac_addr"])
        for net, items in s["addresses"].items()
        for a in items
    }


def _nova_addresses(s: dict[str, Any]) -> set[tuple[str, str, str]]:
    out = set()
    for net, items in s["addresses"].items():
        for a in items:
            assert a["version"] == 4 and a["OS-EXT-IPS:type"] == "fixed"
            out.add((net, a["addr"], a["OS-EXT-IPS-MAC:mac_addr"]))
    return out


def assert_agree(ecs: dict[str, Any], nova: dict[str, Any], legacy: dict[str, Any]) -> None:
    """``nova`` at 2.47+ (flavor embedded), ``legacy`` below 2.47 (flavor by id)."""
    for key in (
        "id",
        "name",
        "status",
        "OS-EXT-STS:vm_state",
        "OS-EXT-STS:task_state",
        "OS-EXT-STS:power_state",
        "OS-EXT-AZ:availability_zone",
        "key_name",
        "tenant_id",
        "user_id",
        "hostId",
        "created",
        "updated",
        "locked",
        "host_status",
        "accessIPv4",
        "accessIPv6",
    ):
        assert nova[key] == ecs[key], key
    assert nova["image"]["id"] == ecs["image"]["id"]
    # The flavor: its id below 2.47, its sizes from 2.47 on (ECS gives them as strings).
    assert legacy["flavor"]["id"] == ecs["flavor"]["id"]
    flavor = nova["flavor"]
    assert flavor["original_name"] == ecs["flavor"]["id"]
    assert str(flavor["vcpus"]) == ecs["flavor"]["vcpus"]
    assert str(flavor["ram"]) == ecs["flavor"]["ram"]
    assert str(flavor["disk"]) == ecs["flavor"]["disk"]
    assert _nova_addresses(nova) == _ecs_addresses(ecs)
    assert [v["id"] for v in nova["os-extended-volumes:volumes_attached"]] == [
        v["id"] for v in ecs["os-extended-volumes:volumes_attached"]
    ]
    assert (nova.get("fault") or {}).get("message") == (ecs["fault"] or {}).get("message")
    # Nova leaves the member out for a server in no group; ECS names each group by id too.
    assert [g["name"] for g in nova.get("security_groups", [])] == [
        g["name"] for g in ecs["security_groups"]
    ]


def _check(api: Api, sid: str) -> None:
    assert_agree(
        _ecs(api, sid),
        _nova(api, f"/servers/{sid}", "2.60")["server"],
        _nova(api, f"/servers/{sid}", "2.46")["server"],
    )


def test_every_demo_server_looks_the_same_through_ecs_and_nova(api: Api) -> None:
    ids = list(api.demo["servers"].values())
    assert ids
    for sid in ids:
        _check(api, sid)
    # The sizes are the flavor's own, not placeholders.
    nova = _nova(api, f"/servers/{ids[0]}", "2.60")["server"]
    listed = {
        f["id"]: f
        for f in api.client.get(f"/v1/{api.project}/cloudservers/flavors").json()["flavors"]
    }
    own = listed[nova["flavor"]["original_name"]]
    assert (str(nova["flavor"]["vcpus"]), nova["flavor"]["ram"]) == (own["vcpus"], own["ram"])


@pytest.mark.parametrize("flavor", ["s6.small.1", "s6.medium.2"])
def test_created_servers_agree_on_flavor_and_vpc_addresses(api: Api, flavor: str) -> None:
    resp = create(
        api,
        body(api, flavorRef=flavor)
        | {"server": body(api, flavorRef=flavor)["server"] | {"count": 2}},
    )
    assert resp.status_code == 200, resp.text
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    server_ids = resp.json()["serverIds"]
    for sid in server_ids:
        ecs = _ecs(api, sid)
        assert ecs["flavor"]["id"] == flavor
        assert _ecs_addresses(ecs), "a created server has a fixed IP in the VPC"
        _check(api, sid)
    # Nova's detail list renders the same documents as its show.
    detail = {s["id"]: s for s in _nova(api, "/servers/detail", "2.60")["servers"]}
    for sid in server_ids:
        assert detail[sid] == _nova(api, f"/servers/{sid}", "2.60")["server"]


def test_what_only_novas_door_sets_looks_the_same(api: Api) -> None:
    """What only Nova's door sets (the lock, the access addresses, the security group) ECS
    ShowServer shows too."""
    sid = api.demo["servers"]["running"]
    headers = {"OpenStack-API-Version": "compute 2.60"}
    put = api.client.put(
        f"/v2.1/{api.project}/servers/{sid}",
        json={"server": {"accessIPv4": "198.51.100.7", "accessIPv6": "2001:db8::7"}},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    lock = api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action", json={"lock": None}, headers=headers
    )
    assert lock.status_code == 202, lock.text
    ecs = _ecs(api, sid)
    assert (ecs["locked"], ecs["accessIPv4"], ecs["accessIPv6"]) == (
        True,
        "198.51.100.7",
        "2001:db8::7",
    )
    _check(api, sid)
    assert [g["name"] for g in ecs["security_groups"]] == ["default"]
    removed = api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action",
        json={"removeSecurityGroup": {"name": "default"}},
        headers=headers,
    )
    assert removed.status_code == 202, removed.text
    assert _ecs(api, sid)["security_groups"] == []
    _check(api, sid)
