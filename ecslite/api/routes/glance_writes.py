"""Glance v2 image writes under ``/image/v2/images``: create (a queued image), upload the file
(streamed, never whole in memory), JSON-patch (name, tags, ``min_disk``, properties such as
``__support_cloudinit``), tag, delete. The rules are the service's (services/images.py).

The upload body is the one request body that is not capped at the API's 64 KiB: the credential
guard and the body reader let ``PUT .../file`` through unread (api/streaming.py), so it
must be authenticated by token (an AK/SK signature covers a body hash, which a stream cannot
give before it is read). Each chunk goes to the staging file as it arrives; a body that breaks
off, is too large, or is not the declared format leaves the image ``queued``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, RootModel, ValidationError
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.views import image_view
from ecslite.api.openapi import json_body
from ecslite.api.routes.glance import glance_project
from ecslite.services.images import (
    AbortUpload,
    CreateImage,
    DeleteImage,
    FinishUpload,
    ImageChange,
    StartUpload,
    UpdateImage,
)

router = APIRouter(include_in_schema=False)

PATCH_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"
# Chunks are gathered to this size and written (and hashed) off the event loop.
_WRITE_BATCH = 1024 * 1024


class _Attributes(RootModel[dict[str, Any]]):
    pass


class _PatchOp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["add", "replace", "remove"]
    path: str
    value: Any = None


class ImagePatch(RootModel[list[_PatchOp]]):
    pass


@router.post("/image/v2/images", status_code=201, openapi_extra=json_body(_Attributes))
async def create_image(request: Request) -> JSONResponse:
    body = await parse_body(request, _Attributes)
    project_id = glance_project(request)
    image = services(request).ops.submit(CreateImage(project_id=project_id, attributes=body.root))
    return JSONResponse(
        status_code=201,
        content=image_view(image),
        headers={"Location": f"{request.base_url}image/v2/images/{image.id}"},
    )


def _change(op: _PatchOp) -> ImageChange:
    if not op.path.startswith("/") or op.path.count("/") != 1:
        raise NovaFault(400, f"Invalid JSON pointer for this resource: {op.path[:64]!r}")
    name = op.path[1:].replace("~1", "/").replace("~0", "~")
    return ImageChange(op=op.op, name=name, value=op.value)


@router.patch("/image/v2/images/{image_id}", openapi_extra=json_body(ImagePatch, PATCH_MEDIA_TYPE))
async def update_image(image_id: str, request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != PATCH_MEDIA_TYPE:
        raise NovaFault(415, f"Send Content-Type: {PATCH_MEDIA_TYPE}.")
    try:
        ops = ImagePatch.model_validate(json.loads(await request.body())).root
    except (ValueError, ValidationError, RecursionError):
        raise NovaFault(
            400, "The body must be a JSON list of add/replace/remove operations."
        ) from None
    project_id = glance_project(request)
    image = services(request).ops.submit(
        UpdateImage(project_id=project_id, image_id=image_id, changes=tuple(map(_change, ops)))
    )
    return image_view(image)


@router.put("/image/v2/images/{image_id}/tags/{tag}", status_code=204)
def add_tag(image_id: str, tag: str, request: Request) -> Response:
    _tags(request, image_id, lambda tags: [*tags, tag])
    return Response(status_code=204)


@router.delete("/image/v2/images/{image_id}/tags/{tag}", status_code=204)
def delete_tag(image_id: str, tag: str, request: Request) -> Response:
    def without(tags: list[str]) -> list[str]:
        if tag not in tags:
            raise NovaFault(404, f"Tag {tag[:64]} not found.")
        return [t for t in tags if t != tag]

    _tags(request, image_id, without)
    return Response(status_code=204)


def _tags(request: Request, image_id: str, change: Any) -> None:
    project_id = glance_project(request)
    image = services(request).catalog.image(project_id, image_id)
    if image is None:
        raise NovaFault(404, f"No image found with ID {image_id}")
    tags = change(list(image.tags))
    services(request).ops.submit(
        UpdateImage(
            project_id=project_id,
            image_id=image_id,
            changes=(ImageChange(op="replace", name="tags", value=tags),),
        )
    )


@router.delete("/image/v2/images/{image_id}", status_code=204)
def delete_image(image_id: str, request: Request) -> Response:
    project_id = glance_project(request)
    services(request).ops.submit(DeleteImage(project_id=project_id, image_id=image_id))
    return Response(status_code=204)


@router.put("/image/v2/images/{image_id}/file", status_code=204)
async def upload_file(image_id: str, request: Request) -> Response:
    project_id = glance_project(request)
    length = request.headers.get("content-length")
    declared = int(length) if length is not None and length.isdigit() else None
    ops = services(request).ops
    upload = await run_in_threadpool(
        ops.submit, StartUpload(project_id=project_id, image_id=image_id, declared_size=declared)
    )
    try:
        pending: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            pending.append(chunk)
            size += len(chunk)
            if size >= _WRITE_BATCH:
                await run_in_threadpool(upload.write, b"".join(pending))
                pending, size = [], 0
        await run_in_threadpool(upload.write, b"".join(pending))
    except BaseException:
        # Cut off (ClientDisconnect), too large, or cancelled: the image goes back to queued.
        await run_in_threadpool(ops.submit, AbortUpload(project_id=project_id, upload=upload))
        raise
    await run_in_threadpool(ops.submit, FinishUpload(project_id=project_id, upload=upload))
    return Response(status_code=204)
