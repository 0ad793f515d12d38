"""Nova's server metadata under /v2.1/{project_id}/servers/{id}/metadata.

``GET`` lists it, ``PUT`` replaces it, ``POST`` merges into it; ``.../metadata/{key}`` shows,
sets (``{"meta": {key: value}}``, the key as in the URL) or deletes one item. Writes are the
``SetServerMetadata``/``DeleteServerMetadataItem`` commands (services/server_metadata.py, which
holds the rules: limits, allowed states); reads render the read model's server. Too many items
is Nova's 403 "Quota exceeded for metadata items" (api/nova/faults.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.openapi import json_body
from ecslite.services.server_metadata import DeleteServerMetadataItem, SetServerMetadata

router = APIRouter(include_in_schema=False)

_PATH = "/v2.1/{project_id}/servers/{server_id}/metadata"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerMetadataBody(_Strict):
    metadata: dict[StrictStr, StrictStr]


class ServerMetaItemBody(_Strict):
    meta: dict[StrictStr, StrictStr]


def _metadata(request: Request, project_id: str, server_id: str) -> dict[str, str]:
    who = principal(request, project_id)
    return dict(services(request).servers.show(who.project_id, server_id).server.metadata)


def _set(
    request: Request, project_id: str, server_id: str, items: dict[str, str], *, replace: bool
) -> dict[str, str]:
    who = principal(request, project_id)
    return services(request).ops.submit(
        SetServerMetadata(who.project_id, server_id, items, replace=replace)
    )


@router.get(_PATH)
def list_metadata(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    return {"metadata": _metadata(request, project_id, server_id)}


async def _write(
    request: Request, project_id: str, server_id: str, v: Microversion, *, replace: bool
) -> JSONResponse:
    body = await parse_body(request, ServerMetadataBody)
    result = await run_in_threadpool(
        _set, request, project_id, server_id, body.metadata, replace=replace
    )
    return JSONResponse({"metadata": result}, headers=echo_headers(v))


@router.put(_PATH, openapi_extra=json_body(ServerMetadataBody))
async def replace_metadata(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> JSONResponse:
    return await _write(request, project_id, server_id, v, replace=True)


@router.post(_PATH, openapi_extra=json_body(ServerMetadataBody))
async def merge_metadata(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> JSONResponse:
    return await _write(request, project_id, server_id, v, replace=False)


@router.get(_PATH + "/{key}")
def show_item(project_id: str, server_id: str, key: str, request: Request) -> dict[str, Any]:
    metadata = _metadata(request, project_id, server_id)
    if key not in metadata:
        raise NovaFault(404, "Metadata item was not found")
    return {"meta": {key: metadata[key]}}


@router.put(_PATH + "/{key}", openapi_extra=json_body(ServerMetaItemBody))
async def set_item(
    project_id: str,
    server_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> JSONResponse:
    meta = (await parse_body(request, ServerMetaItemBody)).meta
    if len(meta) != 1:
        raise NovaFault(400, "Request body contains too many items")
    if key not in meta:
        raise NovaFault(400, "Request body and URI mismatch")
    await run_in_threadpool(_set, request, project_id, server_id, meta, replace=False)
    return JSONResponse({"meta": meta}, headers=echo_headers(v))


@router.delete(_PATH + "/{key}")
def delete_item(
    project_id: str,
    server_id: str,
    key: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> Response:
    who = principal(request, project_id)
    services(request).ops.submit(DeleteServerMetadataItem(who.project_id, server_id, key))
    return Response(status_code=204, headers=echo_headers(v))
