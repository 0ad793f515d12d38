"""Flavors, IMS images, limits and ShowServer's completeness through the official SDKs."""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import (
    ListFlavorsRequest,
    ListServersDetailsRequest,
    ShowServerLimitsRequest,
    ShowServerRequest,
)
from huaweicloudsdkecs.v2.model.server_detail import ServerDetail
from huaweicloudsdkims.v2 import GlanceShowImageRequest, ImsClient, ListImagesRequest

from examples.sdk_reinstall import client_for
from tests.support import Service


def ims_client(demo: dict[str, Any]) -> ImsClient:
    creds = BasicCredentials(demo["access_key"], demo["secret_key"], demo["project_id"])
    return (
        ImsClient.new_builder().with_credentials(creds).with_endpoints([demo["endpoint"]]).build()
    )


def test_flavors_limits_images_and_server_detail(service: Service) -> None:
    demo = service.demo
    ecs = client_for(demo)

    flavors = {f.id: f for f in ecs.list_flavors(ListFlavorsRequest()).flavors}
    assert {"s6.small.1", "s6.large.2", "s6.xlarge.2"} <= set(flavors)
    assert (flavors["s6.large.2"].vcpus, flavors["s6.large.2"].ram) == ("2", 4096)

    # Seeded servers are s3.small.1: ShowServer shows that flavor's real size.
    server = ecs.show_server(ShowServerRequest(server_id=demo["servers"]["stopped"])).server
    assert (server.flavor.id, server.flavor.vcpus, server.flavor.ram) == ("s3.small.1", "1", "1024")
    raw = service.http().get(f"/v1/{demo['project_id']}/cloudservers/{server.id}").json()
    missing = set(ServerDetail.attribute_map.values()) - set(raw["server"])
    assert not missing, missing

    limits = ecs.show_server_limits(ShowServerLimitsRequest()).absolute
    assert limits.total_instances_used == len(raw_list(service)) == 5
    assert limits.total_cores_used == 5 and limits.total_ram_used == 5 * 1024
    assert limits.max_total_instances >= limits.total_instances_used

    ims = ims_client(demo)
    images = {i.id: i for i in ims.list_images(ListImagesRequest()).images}
    img = demo["images"]
    assert {img["cloudinit"], img["alt"], img["no_cloudinit"], img["inactive"]} <= set(images)
    assert images[img["inactive"]].status == "queued"
    assert '"support_cloudinit": false' in images[img["no_cloudinit"]].os_feature_list
    one = ims.list_images(ListImagesRequest(id=img["alt"])).images
    assert [i.id for i in one] == [img["alt"]] and one[0].min_disk == 10
    shown = ims.glance_show_image(GlanceShowImageRequest(image_id=img["alt"]))
    assert (shown.id, shown.name, shown.status) == (
        img["alt"],
        "Ubuntu 24.04 (cloud-init)",
        "active",
    )
    with pytest.raises(ClientRequestException) as exc:
        ims.glance_show_image(GlanceShowImageRequest(image_id="nope"))
    assert exc.value.status_code == 404
    active = ims.list_images(ListImagesRequest(status="active")).images
    assert img["inactive"] not in {i.id for i in active}


def raw_list(service: Service) -> list[dict[str, Any]]:
    demo = service.demo
    resp = service.http().get(f"/v1/{demo['project_id']}/cloudservers/detail?limit=100")
    return list(resp.json()["servers"])


def test_list_filters_flavor_and_refuses_tags(service: Service) -> None:
    ecs = client_for(service.demo)
    by_flavor = ecs.list_servers_details(ListServersDetailsRequest(flavor="s3.small.1"))
    assert by_flavor.count == 5
    assert ecs.list_servers_details(ListServersDetailsRequest(flavor="s6.large.2")).count == 0
    with pytest.raises(ClientRequestException) as exc:
        ecs.list_servers_details(ListServersDetailsRequest(tags="env=prod"))
    assert exc.value.status_code == 400 and exc.value.error_code == "Ecs.0005"
