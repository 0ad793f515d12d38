"""Render volumes in the wire shape of EVS's ``VolumeDetail`` (the SDK's list/show models).

ecslite records no name, description, update time or attach time for a volume: ``name`` is
empty, ``updated_at`` null, and ``attached_at`` is the volume's creation (ecslite attaches a
disk when it makes it: at a create, or at a reinstall for the new system disk). The attachment
id is derived from the volume and server ids, so it is stable for as long as the attachment.
"""

from __future__ import annotations

import uuid
from typing import Any

from ecslite.domain.server import AVAILABILITY_ZONE, Volume
from ecslite.services.volumes import VolumeContext


def _links(base_url: str, project_id: str, volume_id: str) -> list[dict[str, str]]:
    base = base_url.rstrip("/")
    return [
        {"href": f"{base}/v2/{project_id}/cloudvolumes/{volume_id}", "rel": "self"},
        {"href": f"{base}/{project_id}/cloudvolumes/{volume_id}", "rel": "bookmark"},
    ]


def _attachments(vol: Volume, ctx: VolumeContext) -> list[dict[str, Any]]:
    if vol.server_id is None:
        return []
    return [
        {
            "server_id": vol.server_id,
            "attachment_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vol.id}/{vol.server_id}")),
            "attached_at": vol.created,
            "host_name": ctx.host,
            "volume_id": vol.id,
            "device": vol.device or "",
            "id": vol.id,
        }
    ]


def volume_detail(vol: Volume, ctx: VolumeContext, *, base_url: str) -> dict[str, Any]:
    metadata: dict[str, str] = {}
    if vol.encrypted:
        metadata["__system__encrypted"] = "1"
        if vol.cmk_id:
            metadata["__system__cmkid"] = vol.cmk_id
    image_metadata: dict[str, str] = {}
    if vol.image_id is not None:
        image_metadata["image_id"] = vol.image_id
        if ctx.image is not None:
            image_metadata["image_name"] = ctx.image.name
    return {
        "id": vol.id,
        "links": _links(base_url, vol.project_id, vol.id),
        "name": "",
        "status": vol.status,
        "attachments": _attachments(vol, ctx),
        "availability_zone": AVAILABILITY_ZONE,
        "os-vol-host-attr:host": None,
        "source_volid": None,
        "snapshot_id": None,
        "description": None,
        "created_at": vol.created,
        "os-vol-tenant-attr:tenant_id": vol.project_id,
        "volume_image_metadata": image_metadata,
        "volume_type": vol.volume_type,
        "size": vol.size_gb,
        "consistencygroup_id": None,
        "bootable": "true" if vol.image_id is not None else "false",
        "metadata": metadata,
        "updated_at": None,
        "encrypted": vol.encrypted,
        "replication_status": "disabled",
        "os-volume-replication:extended_status": None,
        "os-vol-mig-status-attr:migstat": None,
        "os-vol-mig-status-attr:name_id": None,
        "shareable": "false",
        "user_id": None,
        "service_type": "EVS",
        "multiattach": False,
        "dedicated_storage_id": None,
        "dedicated_storage_name": None,
        "tags": {},
        "wwn": None,
        "enterprise_project_id": "0",
        "serial_number": None,
        "iops": None,
        "throughput": None,
    }
