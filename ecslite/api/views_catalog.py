"""Wire shapes of flavors, IMS images and project limits, as the official SDK models read them."""

from __future__ import annotations

import json
from typing import Any

from ecslite.domain.flavor import Flavor
from ecslite.domain.limits import ADVERTISED
from ecslite.domain.resources import Image
from ecslite.services.catalog import Limits


def flavor_view(f: Flavor) -> dict[str, Any]:
    """ECS ListFlavors item: ``vcpus`` and ``disk`` are strings, ``ram`` an integer (MB)."""
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": str(f.vcpus),
        "ram": f.ram_mb,
        "disk": str(f.disk_gb),
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "rxtx_factor": 1,
        "rxtx_quota": None,
        "rxtx_cap": None,
        "os-flavor-access:is_public": True,
        "links": [],
        "os_extra_specs": {
            "ecs:performancetype": "normal",
            "resource_type": "IOoptimizedS6",
            "cond:operation:status": "normal",
        },
        # free_nic: NICs a server can still attach (the official SDK model requires the field).
        "attachableQuantity": {"free_scsi": 59, "free_blk": 23, "free_disk": 23, "free_nic": 11},
    }


def server_flavor(f: Flavor | None, flavor_id: str) -> dict[str, Any]:
    """ShowServer's ``flavor``: every number a string. An unknown flavor shows its id only."""
    return {
        "id": flavor_id,
        "name": flavor_id,
        "disk": str(f.disk_gb) if f else "0",
        "vcpus": str(f.vcpus) if f else "0",
        "ram": str(f.ram_mb) if f else "0",
        "gpus": [],
        "asic_accelerators": [],
    }


def ims_image(im: Image) -> dict[str, Any]:
    """IMS ImageInfo. Whether Cloud-Init is installed is in ``__os_feature_list``."""
    platform = next(
        (p for p in ("Debian", "Ubuntu", "CentOS", "Windows") if p.lower() in im.name.lower()),
        "Other",
    )
    return {
        "id": im.id,
        "name": im.name,
        "status": im.status,
        "visibility": "private" if im.project_id else "public",
        "owner": im.project_id or "",
        "protected": im.project_id is None,
        "min_disk": im.min_disk_gb,
        "min_ram": 0,
        "disk_format": "qcow2",
        "container_format": "bare",
        "__os_type": im.os_type,
        "__os_version": im.name,
        "__platform": platform,
        "__imagetype": "private" if im.project_id else "gold",
        "__isregistered": "true",
        "__support_kvm": "true",
        "__os_bit": "64",
        "__os_feature_list": json.dumps({"support_cloudinit": im.cloud_init}),
        "virtual_env_type": "FusionCompute",
        "tags": [],
        # The store keeps no image timestamps; an empty string reads as "unknown".
        "created_at": "",
        "updated_at": "",
        "self": f"/v2/images/{im.id}",
        "file": f"/v2/images/{im.id}/file",
        "schema": "/v2/schemas/image",
    }


def limits_view(limits: Limits) -> dict[str, Any]:
    q, u = limits.quotas, limits.usage
    return {
        "absolute": {
            "maxTotalInstances": q.instances,
            "maxTotalCores": q.cores,
            "maxTotalRAMSize": q.ram_mb,
            "totalInstancesUsed": u.instances,
            "totalCoresUsed": u.cores,
            "totalRAMUsed": u.ram_mb,
            **ADVERTISED,
            "maxSecurityGroups": 100,
            "maxSecurityGroupRules": 5000,
            "maxServerGroups": 10,
            "maxServerGroupMembers": 16,
            "maxTotalFloatingIps": 10,
            "totalFloatingIpsUsed": 0,
            "totalSecurityGroupsUsed": 0,
            "totalServerGroupsUsed": 0,
            "maxTotalSpotInstances": 0,
            "maxTotalSpotCores": 0,
            "maxTotalSpotRAMSize": 0,
            "totalSpotInstancesUsed": 0,
            "totalSpotCoresUsed": 0,
            "totalSpotRAMUsed": 0,
            "limit_by_flavor": [],
        }
    }
