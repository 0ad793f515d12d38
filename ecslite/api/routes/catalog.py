"""Flavors and limits under /v1/{project_id}/cloudservers, IMS images under /v2/cloudimages.

The IMS path carries no project id: the project is the credential's (the SDK's X-Project-Id
header, or the token's scope), as on the real cloud.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from ecslite.api.deps import principal, services
from ecslite.api.views_catalog import flavor_view, ims_image, limits_view
from ecslite.auth.authenticator import Identity
from ecslite.domain import errors
from ecslite.services.catalog import ImageFilter

router = APIRouter()
ims_router = APIRouter()


@router.get("/v1/{project_id}/cloudservers/flavors", response_model=None)
def flavors(
    project_id: str, request: Request, availability_zone: str | None = None
) -> dict[str, Any]:
    principal(request, project_id)
    # Every flavor is offered in every availability zone: the filter narrows nothing.
    return {"flavors": [flavor_view(f) for f in services(request).catalog.flavors()]}


@router.get("/v1/{project_id}/cloudservers/limits", response_model=None)
def limits(project_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    return limits_view(services(request).catalog.limits(who.project_id))


def _ims_project(request: Request) -> str:
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None:
        raise errors.EcsError(errors.UNAUTHORIZED)
    if identity.project_id is None:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            "Name the project: send X-Project-Id (the SDK does) or use a project-scoped token.",
        )
    return identity.project_id


# otcextensions derives the IMS endpoint from the catalog's ``image`` URL (``/image``), so IMS
# answers under it too.
@ims_router.get("/image/v2/cloudimages", response_model=None, include_in_schema=False)
@ims_router.get("/v2/cloudimages", response_model=None)
def cloudimages(
    request: Request,
    id: str | None = None,
    name: str | None = None,
    status: str | None = None,
    os_type: str | None = Query(default=None, alias="__os_type"),
    visibility: str | None = None,
    limit: int = Query(default=500, ge=1, le=1000),
    marker: str | None = None,
) -> dict[str, Any]:
    project_id = _ims_project(request)
    flt = ImageFilter(id=id, name=name, status=status, os_type=os_type, visibility=visibility)
    images = services(request).catalog.images(project_id, flt)
    if marker is not None:
        ids = [im.id for im in images]
        images = images[ids.index(marker) + 1 :] if marker in ids else []
    return {"images": [ims_image(im) for im in images[:limit]]}


@ims_router.get("/v2/images/{image_id}", response_model=None)
def glance_image(image_id: str, request: Request) -> dict[str, Any]:
    """One image by id (IMS GlanceShowImage): the same fields as a ListImages item."""
    project_id = _ims_project(request)
    found = services(request).catalog.images(project_id, ImageFilter(id=image_id))
    if not found:
        raise errors.EcsError(errors.NOT_FOUND, "The image does not exist.")
    return ims_image(found[0])
