"""Nova's quota sets (read, from the ECS quotas; another project's is 403) and the image proxy
(list/detail/show/delete, gone from 2.36)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Api


def _nova(
    api: Api, method: str, path: str, version: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return api.client.request(method, f"/v2.1/{api.project}{path}", headers=headers, **kw)


def test_quota_set_is_the_ecs_quota_with_usage_in_detail(api: Api) -> None:
    p = api.project
    ecs = api.client.get(f"/v1/{p}/cloudservers/limits").json()["absolute"]
    shown = _nova(api, "GET", f"/os-quota-sets/{p}").json()["quota_set"]
    assert shown["id"] == p
    assert shown["instances"] == ecs["maxTotalInstances"]
    assert shown["cores"] == ecs["maxTotalCores"] and shown["ram"] == ecs["maxTotalRAMSize"]
    assert shown["key_pairs"] == ecs["maxTotalKeypairs"]
    assert "floating_ips" in shown and "injected_files" in shown  # 2.1 still lists them
    detail = _nova(api, "GET", f"/os-quota-sets/{p}/detail", "2.60").json()["quota_set"]
    assert detail["instances"] == {
        "limit": ecs["maxTotalInstances"],
        "in_use": ecs["totalInstancesUsed"],
        "reserved": 0,
    }
    assert detail["cores"]["in_use"] == ecs["totalCoresUsed"] > 0
    assert "floating_ips" not in detail and "injected_files" not in detail
    defaults = _nova(api, "GET", f"/os-quota-sets/{p}/defaults").json()["quota_set"]
    assert defaults["instances"] >= 1


@pytest.mark.parametrize("suffix", ["", "/detail"])
def test_another_projects_quota_is_forbidden(api: Api, suffix: str) -> None:
    resp = _nova(api, "GET", f"/os-quota-sets/some-other-project{suffix}")
    assert resp.status_code == 403 and resp.json()["forbidden"]["code"] == 403
    other_user = _nova(api, "GET", f"/os-quota-sets/{api.project}?user_id=someone")
    assert other_user.status_code == 403
    assert _nova(api, "GET", f"/os-quota-sets/{api.project}?bogus=1").status_code == 400
    assert _nova(api, "PUT", f"/os-quota-sets/{api.project}", json={}).status_code == 403


def test_image_proxy_lists_shows_and_deletes(api: Api) -> None:
    d = api.demo
    listed = _nova(api, "GET", "/images").json()["images"]
    ids = {i["id"] for i in listed}
    assert d["images"]["cloudinit"] in ids
    assert all(set(i) == {"id", "name", "links"} for i in listed)
    detail = _nova(api, "GET", "/images/detail", "2.35").json()["images"]
    one = next(i for i in detail if i["id"] == d["images"]["cloudinit"])
    assert one["status"] == "ACTIVE" and one["progress"] == 100 and "minDisk" in one
    page = _nova(api, "GET", "/images?limit=1").json()
    assert len(page["images"]) == 1 and page["images_links"][0]["rel"] == "next"
    shown = _nova(api, "GET", f"/images/{d['images']['cloudinit']}").json()["image"]
    assert shown["name"] == one["name"]
    assert _nova(api, "GET", "/images/00000000-0000-0000-0000-000000000000").status_code == 404
    assert _nova(api, "GET", "/images?server=x").status_code == 400
    # Gone from 2.36, as in Nova.
    assert _nova(api, "GET", "/images", "2.36").status_code == 404
    # Delete: a public image is 403; the project's own is deleted through Glance.
    assert _nova(api, "DELETE", f"/images/{d['images']['cloudinit']}").status_code == 403
    own = api.client.post("/image/v2/images", json={"name": "mine"}).json()
    assert _nova(api, "DELETE", f"/images/{own['id']}").status_code == 204
    assert _nova(api, "GET", f"/images/{own['id']}").status_code == 404


def test_image_metadata_is_the_images_properties(api: Api) -> None:
    own = api.client.post("/image/v2/images", json={"name": "meta", "os_distro": "debian"}).json()
    base = f"/images/{own['id']}/metadata"
    assert _nova(api, "GET", base).json() == {"metadata": {"os_distro": "debian"}}
    merged = _nova(api, "POST", base, json={"metadata": {"a": "1"}}).json()["metadata"]
    assert merged == {"os_distro": "debian", "a": "1"}
    replaced = _nova(api, "PUT", base, json={"metadata": {"b": "2"}}).json()["metadata"]
    assert replaced == {"b": "2"}
    assert _nova(api, "PUT", f"{base}/c", json={"meta": {"c": "3"}}).json() == {"meta": {"c": "3"}}
    assert _nova(api, "GET", f"{base}/c").json() == {"meta": {"c": "3"}}
    assert _nova(api, "PUT", f"{base}/c", json={"meta": {"d": "3"}}).status_code == 400
    assert _nova(api, "DELETE", f"{base}/c").status_code == 204
    assert _nova(api, "GET", f"{base}/c").status_code == 404
    glance = api.client.get(f"/image/v2/images/{own['id']}").json()
    assert glance["b"] == "2" and "c" not in glance and "os_distro" not in glance
    # Public images' metadata is read-only for a project.
    public = f"/images/{api.demo['images']['cloudinit']}/metadata"
    assert _nova(api, "POST", public, json={"metadata": {"x": "y"}}).status_code == 403


def test_images_changed_since(api: Api) -> None:
    own = api.client.post("/image/v2/images", json={"name": "recent"}).json()
    later = _nova(api, "GET", "/images/detail?changes-since=2100-01-01T00:00:00Z").json()
    assert later["images"] == []
    since = own["created_at"]
    recent = _nova(api, "GET", f"/images?changes-since={since}").json()["images"]
    assert own["id"] in {i["id"] for i in recent}
    assert _nova(api, "GET", "/images?changes-since=yesterday").status_code == 400
    for image in _nova(api, "GET", "/images/detail").json()["images"]:
        assert image["created"] and image["updated"]
