"""What OpenStack clients and Tempest check beyond the bodies: the microversion echo and the
request id on every OpenStack answer (errors included), key pair shapes and statuses per
microversion, the rebuild answer's fields, and one version document per service root."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.support import poll

REQ_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _v(version: str | None) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}"} if version else {}


def _anon(api: Api) -> httpx.Client:
    """The same app, without credentials."""
    return httpx.Client(transport=api.client._transport, base_url=str(api.client.base_url))


def _echoes(resp: httpx.Response, version: str) -> None:
    assert resp.headers["OpenStack-API-Version"] == f"compute {version}", resp.headers
    assert resp.headers["X-OpenStack-Nova-API-Version"] == version
    assert "OpenStack-API-Version" in resp.headers["Vary"]
    assert REQ_ID.match(resp.headers["x-openstack-request-id"]), resp.headers
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.60"])
def test_every_compute_answer_echoes_the_version_and_a_request_id(api: Api, version: str) -> None:
    p = api.project
    c = api.client
    answers = [
        c.get(f"/v2.1/{p}/os-keypairs", headers=_v(version)),
        c.get(f"/v2/{p}/os-keypairs", headers=_v(version)),
        c.get(f"/v2.1/{p}/os-keypairs/none-such", headers=_v(version)),  # 404
        c.get(f"/v2.1/{p}/no-such-resource", headers=_v(version)),  # 404 without a route
        c.get(f"/v2.1/{p}/servers", headers=_v(version)),
        c.get(f"/v2.1/{p}/flavors", headers=_v(version)),
        # No credentials: refused by the guard before any route runs.
        _anon(api).get(f"/v2.1/{p}/servers", headers=_v(version)),
    ]
    assert [r.status_code for r in answers] == [200, 200, 404, 404, 200, 200, 401]
    for resp in answers:
        _echoes(resp, version)


def test_a_refused_version_is_not_echoed(api: Api) -> None:
    resp = api.client.get(f"/v2.1/{api.project}/os-keypairs", headers=_v("2.999"))
    assert resp.status_code == 406 and "notAcceptable" in resp.json()
    assert "OpenStack-API-Version" not in resp.headers
    assert REQ_ID.match(resp.headers["x-openstack-request-id"])


def test_request_ids_on_identity_and_image_and_none_on_ecs(api: Api) -> None:
    anon = _anon(api)
    for resp in (
        anon.get("/"),
        anon.get("/v3"),
        anon.post("/v3/auth/tokens", json={"auth": {}}),
        api.client.get("/image/v2/images"),
        anon.get("/image/v2/images"),
    ):
        assert REQ_ID.match(resp.headers["x-openstack-request-id"]), (resp.url, resp.headers)
    # Each answer has its own id, and it is the access log's id in OpenStack's form.
    a, b = anon.get("/v3"), anon.get("/v3")
    assert a.headers["x-openstack-request-id"] != b.headers["x-openstack-request-id"]
    hexid = a.headers["x-request-id"]
    assert a.headers["x-openstack-request-id"].replace("-", "") == f"req{hexid}"
    ecs = api.client.get(f"/v1/{api.project}/cloudservers/detail")
    assert ecs.status_code == 200 and "x-openstack-request-id" not in ecs.headers


def _create(api: Api, version: str | None, **keypair: Any) -> httpx.Response:
    return api.client.post(
        f"/v2.1/{api.project}/os-keypairs", json={"keypair": keypair}, headers=_v(version)
    )


def test_keypairs_below_2_2_have_no_type_answer_200_and_delete_202(api: Api) -> None:
    base = f"/v2.1/{api.project}/os-keypairs"
    created = _create(api, None, name="old")
    assert created.status_code == 200 and "type" not in created.json()["keypair"]
    assert "type" not in api.client.get(f"{base}/old").json()["keypair"]
    listed = api.client.get(base).json()["keypairs"]
    assert listed and all("type" not in k["keypair"] for k in listed)
    refused = _create(api, "2.1", name="typed", type="ssh")
    assert refused.status_code == 400 and "badRequest" in refused.json()
    assert api.client.delete(f"{base}/old").status_code == 202


def test_keypairs_from_2_2_have_type_answer_201_and_delete_204(api: Api) -> None:
    base = f"/v2.1/{api.project}/os-keypairs"
    created = _create(api, "2.2", name="new", type="ssh")
    assert created.status_code == 201, created.text
    assert created.json()["keypair"]["type"] == "ssh"
    shown = api.client.get(f"{base}/new", headers=_v("2.2")).json()["keypair"]
    assert shown["type"] == "ssh"
    listed = api.client.get(base, headers=_v("2.60")).json()["keypairs"]
    assert all(k["keypair"]["type"] == "ssh" for k in listed)
    # user_id in the body is a 2.10 field.
    early = _create(api, "2.9", name="for-me", user_id=api.demo["user_id"])
    assert early.status_code == 400
    assert _create(api, "2.10", name="for-me", user_id=api.demo["user_id"]).status_code == 201
    assert api.client.delete(f"{base}/new", headers=_v("2.2")).status_code == 204
    assert api.client.delete(f"{base}/new", headers=_v("2.2")).status_code == 404


def test_rebuild_answers_without_the_fields_nova_adds_in_2_75(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]
    resp = api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action",
        json={"rebuild": {"imageRef": d["images"]["cloudinit"], "adminPass": "Rebuild-Pass-9x"}},
        headers=_v("2.60"),
    )
    assert resp.status_code == 202, resp.text
    server = resp.json()["server"]
    for absent in (
        "OS-EXT-STS:task_state",
        "OS-EXT-STS:vm_state",
        "OS-EXT-STS:power_state",
        "OS-EXT-AZ:availability_zone",
        "OS-SRV-USG:launched_at",
        "os-extended-volumes:volumes_attached",
        "config_drive",
        "security_groups",
    ):
        assert absent not in server, absent
    assert server["status"] == "REBUILD" and server["adminPass"] == "Rebuild-Pass-9x"
    assert {"id", "image", "flavor", "addresses", "links", "locked", "tags"} <= set(server)
    # show still has them at the same version
    shown = api.client.get(f"/v2.1/{api.project}/servers/{sid}", headers=_v("2.60")).json()
    assert "OS-EXT-STS:vm_state" in shown["server"]
    _echoes(resp, "2.60")
    # Nova adds the key (2.54) and the user data (2.57) to the rebuild's answer before 2.75:
    # the kept ones here, the server's.
    assert server["key_name"] == shown["server"]["key_name"]
    assert "user_data" in server


def test_rebuild_answer_shows_key_from_2_54_and_user_data_from_2_57(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]
    url = f"/v2.1/{api.project}/servers/{sid}/action"

    def rebuild(version: str, **extra: object) -> dict[str, object]:
        body = {"rebuild": {"imageRef": d["images"]["cloudinit"], **extra}}
        resp = api.client.post(url, json=body, headers=_v(version))
        assert resp.status_code == 202, resp.text
        server = dict(resp.json()["server"])
        poll(
            lambda: api.client.get(f"/v2.1/{api.project}/servers/{sid}", headers=_v("2.60")),
            until=lambda r: r.json()["server"]["OS-EXT-STS:task_state"] is None,
        )
        return server

    old = rebuild("2.53", adminPass="Rebuild-Pass-9x")
    assert "key_name" not in old and "user_data" not in old
    keyed = rebuild("2.54", key_name=d["keypair"]["name"])
    assert keyed["key_name"] == d["keypair"]["name"] and "user_data" not in keyed
    user_data = "I2Nsb3VkLWNvbmZpZwo="  # "#cloud-config\n"
    given = rebuild("2.57", key_name=None, user_data=user_data)
    assert given["key_name"] is None and given["user_data"] == user_data
    kept = rebuild("2.57", adminPass="Rebuild-Pass-9x")
    assert kept["key_name"] is None and kept["user_data"] == user_data


def test_each_service_root_lists_only_its_own_versions(api: Api) -> None:
    anon = _anon(api)
    root = anon.get("/")
    assert root.status_code == 300
    assert [v["id"] for v in root.json()["versions"]["values"]] == ["v3.14"]
    for path in ("/compute", "/compute/"):
        compute = anon.get(path)
        assert compute.status_code == 200
        (only,) = compute.json()["versions"]
        assert only["id"] == "v2.1" and only["min_version"] == "2.1"
        assert only["version"] == "2.60"
    image = anon.get("/image/")
    assert {v["id"] for v in image.json()["versions"]} == {"v2.9", "v2.0"}


def test_compute_is_served_under_its_catalog_url(api: Api) -> None:
    login = api.client.post(
        "/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": api.demo["user_name"],
                            "password": api.demo["password"],
                            "domain": {"name": api.demo["domain_name"]},
                        }
                    },
                },
                "scope": {"project": {"id": api.project}},
            }
        },
    )
    assert login.status_code == 201, login.text
    compute = next(s for s in login.json()["token"]["catalog"] if s["type"] == "compute")
    url = compute["endpoints"][0]["url"]
    assert url.endswith(f"/compute/v2.1/{api.project}")
    anon = _anon(api)
    path = httpx.URL(url).path
    token = {"X-Auth-Token": login.headers["X-Subject-Token"]}
    listed = anon.get(f"{path}/servers/detail", headers={**token, **_v("2.47")})
    assert listed.status_code == 200, listed.text
    assert {s["id"] for s in listed.json()["servers"]} >= set(api.demo["servers"].values())
    _echoes(listed, "2.47")
    assert anon.get(f"{path}/servers/detail").status_code == 401
