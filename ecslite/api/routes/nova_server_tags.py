"""Nova's server tags (2.26+) under /v2.1/{project_id}/servers/{id}/tags.

``GET`` lists them, ``PUT`` replaces them (``{"tags": [...]}``), ``DELETE`` removes all;
``.../tags/{tag}``: ``GET`` 204 when the server has it (404 otherwise), ``PUT`` adds it (201
when new, 204 when it was there, ``Location`` either way), ``DELETE`` removes it. Below 2.26
the routes do not exist (404, as in Nova). The rules are in domain/server_tags.py; writes are
the commands of services/server_tags.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.openapi import json_body
from ecslite.services.server_tags import AddServerTag, DeleteServerTag, ReplaceServerTags

router = APIRouter(include_in_schema=False)

_PATH = "/v2.1/{project_id}/servers/{server_id}/tags"
TAGS_VERSION = 26


class ServerTagsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[StrictStr]


def _since_2_26(v: Microversion) -> None:
    if not v.at_least(TAGS_VERSION):
        raise NovaFault(404, "The resource could not be found.")


def _tags(request: Request, project_id: str, server_id: str) -> list[str]:
    who = principal(request, project_id)
    return list(services(request).servers.show(who.project_id, server_id).server.tags)


@router.get(_PATH)
def list_tags(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    _since_2_26(v)
    return {"tags": _tags(request, project_id, server_id)}


@router.put(_PATH, openapi_extra=json_body(ServerTagsBody))
async def replace_tags(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> JSONResponse:
    _since_2_26(v)
    body = await parse_body(request, ServerTagsBody)
    who = principal(request, project_id)
    tags = await run_in_threadpool(
        services(request).ops.submit,
        ReplaceServerTags(who.project_id, server_id, tuple(body.tags)),
    )
    return JSONResponse({"tags": list(tags)}, headers=echo_headers(v))


@router.delete(_PATH)
def delete_tags(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Response:
    _since_2_26(v)
    who = principal(request, project_id)
    services(request).ops.submit(ReplaceServerTags(who.project_id, server_id, ()))
    return Response(status_code=204, headers=echo_headers(v))


@router.get(_PATH + "/{tag}")
def check_tag(
    project_id: str,
    server_id: str,
    tag: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> Response:
    _since_2_26(v)
    if tag not in _tags(request, project_id, server_id):
        raise NovaFault(404, f"Server {server_id} has no tag {tag!r}.")
    return Response(status_code=204, headers=echo_headers(v))


@router.put(_PATH + "/{tag}")
def add_tag(
    project_id: str,
    server_id: str,
    tag: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> Response:
    _since_2_26(v)
    who = principal(request, project_id)
    created = services(request).ops.submit(AddServerTag(who.project_id, server_id, tag))
    base = str(request.base_url).rstrip("/")
    location = f"{base}/v2.1/{who.project_id}/servers/{server_id}/tags/{quote(tag, safe='')}"
    return Response(
        status_code=201 if created else 204, headers={**echo_headers(v), "Location": location}
    )


@router.delete(_PATH + "/{tag}")
def delete_tag(
    project_id: str,
    server_id: str,
    tag: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> Response:
    _since_2_26(v)
    who = principal(request, project_id)
    services(request).ops.submit(DeleteServerTag(who.project_id, server_id, tag))
    return Response(status_code=204, headers=echo_headers(v))
