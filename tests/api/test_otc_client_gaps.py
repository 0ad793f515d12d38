"""Two places where OTC's and Huawei's own client libraries expected more: IMS under the
catalog's ``image`` URL (otcextensions derives its endpoint from it) and ``free_nic`` in a
flavor's ``attachableQuantity`` (the official SDK's model names it)."""

from __future__ import annotations

from huaweicloudsdkecs.v2.model import ServerAttachableQuantity

from tests.conftest import Api


def test_ims_list_and_jobs_answer_under_the_image_url(api: Api) -> None:
    p = api.project
    headers = {"X-Project-Id": p}
    plain = api.client.get("/v2/cloudimages", headers=headers)
    under = api.client.get("/image/v2/cloudimages", headers=headers)
    assert plain.status_code == under.status_code == 200
    assert plain.json() == under.json() and plain.json()["images"]
    name = plain.json()["images"][0]["name"]
    filtered = api.client.get("/image/v2/cloudimages", params={"name": name}).json()["images"]
    assert filtered and {i["name"] for i in filtered} == {name}
    # A job (here a reinstall's) reads the same under both paths.
    job = api.reinstall(api.demo["servers"]["stopped"], **api.key_login())
    job_id = job.json()["job_id"]
    assert api.client.get(f"/image/v1/{p}/jobs/{job_id}").json()["job_id"] == job_id
    # Errors there are ECS's, not Glance's.
    missing = api.client.get(f"/image/v1/{p}/jobs/{'0' * 32}")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "Common.0011"
    # Glance's own routes under /image are unchanged.
    assert "images" in api.client.get("/image/v2/images").json()


def test_flavor_attachable_quantity_has_free_nic(api: Api) -> None:
    flavors = api.client.get(f"/v1/{api.project}/cloudservers/flavors").json()["flavors"]
    assert flavors
    for f in flavors:
        q = f["attachableQuantity"]
        assert isinstance(q["free_nic"], int) and q["free_nic"] > 0
        # Every field the SDK's model declares is present.
        assert set(ServerAttachableQuantity.attribute_map.values()) <= set(q)
