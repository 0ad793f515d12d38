"""Glance v2 images under the ``image`` catalog endpoint (``/image``): list and show, read from
the same image catalogue the reinstall uses. A project sees the public images and its own.

Glance paths carry no project id, so the scope is the credential's own project (a token's
scope, or the SDK's ``X-Project-Id``); a credential without one is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from ecslite.api.deps import services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.views import image_view
from ecslite.auth.authenticator import Identity

router = APIRouter(include_in_schema=False)


def glance_project(request: Request) -> str:
    """The credential's own project (Glance's paths name none)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None:
        raise NovaFault(401, "Authentication required.")
    if identity.project_id is None:
        raise NovaFault(403, "The credential is not scoped to a project.")
    return identity.project_id


@router.get("/image/v2/images")
def list_images(
    request: Request,
    limit: int | None = Query(default=None, ge=1, le=1000),
    marker: str | None = None,
    name: str | None = None,
    status: str | None = None,
    visibility: str | None = None,
) -> dict[str, Any]:
    project_id = glance_project(request)
    images = [image_view(i) for i in services(request).catalog.images(project_id)]
    images = [
        i
        for i in images
        if (name is None or i["name"] == name)
        and (status is None or i["status"] == status)
        and (visibility in (None, "all") or i["visibility"] == visibility)
    ]
    if marker is not None:
        ids = [i["id"] for i in images]
        if marker not in ids:
            raise NovaFault(400, f"marker [{marker}] not found")
        images = images[ids.index(marker) + 1 :]
    out: dict[str, Any] = {"first": "/v2/images", "schema": "/v2/schemas/images"}
    if limit is not None and len(images) > limit:
        images = images[:limit]
        query = {"limit": limit, "marker": images[-1]["id"]}
        out["next"] = f"/v2/images?{urlencode(query)}"
    out["images"] = images
    return out


@router.get("/image/v2/images/{image_id}")
def show_image(image_id: str, request: Request) -> dict[str, Any]:
    project_id = glance_project(request)
    image = services(request).catalog.image(project_id, image_id)
    if image is None:
        raise NovaFault(404, f"No image found with ID {image_id}")
    return image_view(image)
