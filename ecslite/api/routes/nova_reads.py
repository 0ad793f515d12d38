"""Nova's quota sets and its image proxy under /v2.1/{project_id}.

``os-quota-sets/{tenant_id}`` (and ``/detail``, ``/defaults``) read the project's ECS quotas
and usage in Nova's names; a caller may read only its own project's (403 otherwise, as Nova's
default policy answers a non-administrator). Updating quotas is an administrator's act and no
caller here is one (403).

``images`` is the image proxy Nova deprecated in 2.36 (404 from there) but that clients and
Tempest still call: it shows the Glance catalogue (public images and the project's own) in
Nova's shape, and its delete is Glance's delete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, microversion
from ecslite.api.nova.query import non_negative, refuse_unknown
from ecslite.api.nova.views import EPOCH
from ecslite.api.openapi import json_body
from ecslite.api.views_catalog import limits_view
from ecslite.domain import limits
from ecslite.domain.quota import Quotas, Usage
from ecslite.domain.resources import Image
from ecslite.services.catalog import Limits
from ecslite.services.images import DeleteImage, ImageChange, UpdateImage

router = APIRouter(include_in_schema=False)

# Nova quota name -> (limit key, used key) of the limits view.
_QUOTAS = {
    "instances": ("maxTotalInstances", "totalInstancesUsed"),
    "cores": ("maxTotalCores", "totalCoresUsed"),
    "ram": ("maxTotalRAMSize", "totalRAMUsed"),
    "key_pairs": ("maxTotalKeypairs", None),
    "metadata_items": ("maxServerMeta", None),
    "server_groups": ("maxServerGroups", "totalServerGroupsUsed"),
    "server_group_members": ("maxServerGroupMembers", None),
}
# Reported before 2.57 (personality) and before 2.36 (Neutron's, which ecslite has not).
_PERSONALITY = {
    "injected_files": limits.MAX_PERSONALITY,
    "injected_file_content_bytes": limits.MAX_PERSONALITY_SIZE,
    "injected_file_path_bytes": limits.MAX_PERSONALITY_PATH,
}
_NETWORK = {
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_groups": 10,
    "security_group_rules": 20,
}


def _own(request: Request, project_id: str, tenant_id: str) -> str:
    who = principal(request, project_id)
    if tenant_id != who.project_id:
        raise NovaFault(
            403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
        )
    refuse_unknown(request.query_params, frozenset({"user_id"}))
    user = request.query_params.get("user_id")
    if user is not None and user != who.user_id:
        raise NovaFault(
            403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
        )
    return who.project_id


def _quota_set(
    request: Request, project_id: str, v: Microversion, *, detail: bool, defaults: bool = False
) -> dict[str, Any]:
    limits = Limits(Quotas(), Usage()) if defaults else services(request).catalog.limits(project_id)
    absolute = limits_view(limits)["absolute"]
    out: dict[str, Any] = {"id": project_id}
    extra = dict(_PERSONALITY) if not v.at_least(57) else {}
    if not v.at_least(36):
        extra |= _NETWORK
    for name, (limit_key, used_key) in _QUOTAS.items():
        limit = int(absolute[limit_key])
        used = int(absolute[used_key]) if used_key and not defaults else 0
        out[name] = {"limit": limit, "in_use": used, "reserved": 0} if detail else limit
    for name, limit in extra.items():
        out[name] = {"limit": limit, "in_use": 0, "reserved": 0} if detail else limit
    return {"quota_set": out}


@router.get("/v2.1/{project_id}/os-quota-sets/{tenant_id}")
def show_quota_set(
    project_id: str, tenant_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _quota_set(request, _own(request, project_id, tenant_id), v, detail=False)


@router.get("/v2.1/{project_id}/os-quota-sets/{tenant_id}/detail")
def show_quota_set_detail(
    project_id: str, tenant_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _quota_set(request, _own(request, project_id, tenant_id), v, detail=True)


@router.get("/v2.1/{project_id}/os-quota-sets/{tenant_id}/defaults")
def show_quota_defaults(
    project_id: str, tenant_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    own = _own(request, project_id, tenant_id)
    return _quota_set(request, own, v, detail=False, defaults=True)


@router.put("/v2.1/{project_id}/os-quota-sets/{tenant_id}")
@router.delete("/v2.1/{project_id}/os-quota-sets/{tenant_id}")
def change_quota_set(project_id: str, tenant_id: str, request: Request) -> Response:
    principal(request, project_id)
    raise NovaFault(
        403, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."
    )


# --- images (the proxy to Glance, up to 2.35) -------------------------------------------------

_IMAGE_QUERY = frozenset(
    {"limit", "marker", "name", "status", "minDisk", "minRam", "changes-since"}
)
# Recorded by the upload (shown as Glance's virtual_size), not a metadata item.
_INTERNAL = frozenset({"virtual_size"})


def _metadata(im: Image) -> dict[str, str]:
    return {k: v for k, v in im.properties.items() if k not in _INTERNAL}


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise NovaFault(400, f"Invalid changes-since value {raw[:64]!r}.") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _changed_since(im: Image, since: datetime | None) -> bool:
    if since is None:
        return True
    stamp = im.updated_at or EPOCH
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since


_NOVA_STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}


def _proxy_version(v: Microversion) -> None:
    if v.at_least(36):
        raise NovaFault(404, "The image proxy API is not available from microversion 2.36.")


def _links(request: Request, project_id: str, image_id: str) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    return [
        {"rel": "self", "href": f"{base}/v2.1/{project_id}/images/{image_id}"},
        {"rel": "bookmark", "href": f"{base}/{project_id}/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{base}/image/v2/images/{image_id}",
        },
    ]


def _image(request: Request, project_id: str, im: Image, *, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": im.id,
        "name": im.name,
        "links": _links(request, project_id, im.id),
    }
    if detail:
        status = _NOVA_STATUS.get(im.status, "UNKNOWN")
        out |= {
            "status": status,
            "progress": 100 if status == "ACTIVE" else (50 if status == "SAVING" else 0),
            "minDisk": im.min_disk_gb,
            "minRam": im.min_ram_mb,
            "created": im.created_at or EPOCH,
            "updated": im.updated_at or EPOCH,
            "metadata": _metadata(im),
            "OS-EXT-IMG-SIZE:size": im.size or 0,
        }
    return out


def _images(request: Request, project_id: str, v: Microversion, *, detail: bool) -> dict[str, Any]:
    _proxy_version(v)
    who = principal(request, project_id)
    q = request.query_params
    refuse_unknown(q, _IMAGE_QUERY)
    limit, min_disk, min_ram = (
        non_negative(q, "limit"),
        non_negative(q, "minDisk"),
        non_negative(q, "minRam"),
    )
    since = _since(q.get("changes-since"))
    images = [
        im
        for im in services(request).catalog.images(who.project_id)
        if _changed_since(im, since)
        and (q.get("name") is None or im.name == q["name"])
        and (q.get("status") is None or _NOVA_STATUS.get(im.status) == q["status"].upper())
        and (min_disk is None or im.min_disk_gb >= min_disk)
        and (min_ram is None or im.min_ram_mb >= min_ram)
    ]
    marker = q.get("marker")
    if marker is not None:
        ids = [im.id for im in images]
        if marker not in ids:
            raise NovaFault(400, f"marker [{marker}] not found")
        images = images[ids.index(marker) + 1 :]
    out: dict[str, Any] = {}
    if limit is not None and len(images) > limit:
        images = images[:limit]
        if images:
            query = {k: val for k, val in q.items() if k != "marker"} | {"marker": images[-1].id}
            base = str(request.base_url).rstrip("/")
            path = "images/detail" if detail else "images"
            out["images_links"] = [
                {"rel": "next", "href": f"{base}/v2.1/{project_id}/{path}?{urlencode(query)}"}
            ]
    out["images"] = [_image(request, project_id, im, detail=detail) for im in images]
    return out


@router.get("/v2.1/{project_id}/images")
def list_images(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _images(request, project_id, v, detail=False)


@router.get("/v2.1/{project_id}/images/detail")
def list_images_detail(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _images(request, project_id, v, detail=True)


@router.get("/v2.1/{project_id}/images/{image_id}")
def show_image(
    project_id: str, image_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    _proxy_version(v)
    who = principal(request, project_id)
    im = services(request).catalog.image(who.project_id, image_id)
    if im is None:
        raise NovaFault(404, "Image not found.")
    return {"image": _image(request, project_id, im, detail=True)}


@router.delete("/v2.1/{project_id}/images/{image_id}", status_code=204)
def delete_image(
    project_id: str, image_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Response:
    _proxy_version(v)
    who = principal(request, project_id)
    services(request).ops.submit(DeleteImage(project_id=who.project_id, image_id=image_id))
    return Response(status_code=204)


# --- image metadata (the image's free-form properties, through Glance's update) --------------


def _visible(request: Request, project_id: str, image_id: str, v: Microversion) -> Image:
    _proxy_version(v)
    who = principal(request, project_id)
    im = services(request).catalog.image(who.project_id, image_id)
    if im is None:
        raise NovaFault(404, "Image not found.")
    return im


def _change_metadata(
    request: Request, project_id: str, im: Image, changes: list[ImageChange]
) -> Image:
    who = principal(request, project_id)
    return services(request).ops.submit(
        UpdateImage(project_id=who.project_id, image_id=im.id, changes=tuple(changes))
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageMetadataBody(_Strict):
    metadata: dict[StrictStr, StrictStr]


class ImageMetaItemBody(_Strict):
    meta: dict[StrictStr, StrictStr]


@router.get("/v2.1/{project_id}/images/{image_id}/metadata")
def list_image_metadata(
    project_id: str, image_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return {"metadata": _metadata(_visible(request, project_id, image_id, v))}


@router.post(
    "/v2.1/{project_id}/images/{image_id}/metadata", openapi_extra=json_body(ImageMetadataBody)
)
@router.put(
    "/v2.1/{project_id}/images/{image_id}/metadata", openapi_extra=json_body(ImageMetadataBody)
)
async def update_image_metadata(
    project_id: str, image_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    """POST merges the items in; PUT replaces the whole metadata with them."""
    _proxy_version(v)
    items = (await parse_body(request, ImageMetadataBody)).metadata
    limits.check_image_metadata(items)
    im = _visible(request, project_id, image_id, v)
    changes = [ImageChange(op="add", name=k, value=val) for k, val in items.items()]
    if request.method == "PUT":
        changes = [
            ImageChange(op="remove", name=k) for k in _metadata(im) if k not in items
        ] + changes
    done = _change_metadata(request, project_id, im, changes)
    return {"metadata": _metadata(done)}


@router.get("/v2.1/{project_id}/images/{image_id}/metadata/{key}")
def show_image_metadata_item(
    project_id: str,
    image_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> dict[str, Any]:
    meta = _metadata(_visible(request, project_id, image_id, v))
    if key not in meta:
        raise NovaFault(404, f"Metadata item {key[:64]} was not found.")
    return {"meta": {key: meta[key]}}


@router.put(
    "/v2.1/{project_id}/images/{image_id}/metadata/{key}",
    openapi_extra=json_body(ImageMetaItemBody),
)
async def set_image_metadata_item(
    project_id: str,
    image_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> dict[str, Any]:
    _proxy_version(v)
    items = (await parse_body(request, ImageMetaItemBody)).meta
    limits.check_image_metadata(items)
    im = _visible(request, project_id, image_id, v)
    if list(items) != [key]:
        raise NovaFault(400, "The body must name exactly the item of the URL.")
    _change_metadata(request, project_id, im, [ImageChange(op="add", name=key, value=items[key])])
    return {"meta": items}


@router.delete("/v2.1/{project_id}/images/{image_id}/metadata/{key}", status_code=204)
def delete_image_metadata_item(
    project_id: str,
    image_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> Response:
    im = _visible(request, project_id, image_id, v)
    if key not in _metadata(im):
        raise NovaFault(404, f"Metadata item {key[:64]} was not found.")
    _change_metadata(request, project_id, im, [ImageChange(op="remove", name=key)])
    return Response(status_code=204)
