"""Server queries and batch power actions under /v1/{project_id}/cloudservers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import container, principal
from ecslite.api.openapi import json_body
from ecslite.api.schemas import ServerEnvelope, ServerList
from ecslite.api.views import server_detail
from ecslite.domain import errors
from ecslite.services.idempotency import ClientToken
from ecslite.services.lifecycle import accept_reboot
from ecslite.services.power import accept_power_action
from ecslite.services.server_query import ServerFilter, list_servers
from ecslite.services.server_query import show_server as query_server

router = APIRouter()


@router.get(
    "/v1/{project_id}/cloudservers/detail",
    response_model=None,
    responses={200: {"model": ServerList}},
)
def list_servers_details(
    project_id: str,
    request: Request,
    # Bounded: a page number past any fleet would overflow the row offset.
    offset: int = Query(default=1, ge=0, le=1_000_000),
    limit: int = Query(default=25, ge=1, le=1000),
    status: str | None = None,
    name: str | None = None,
    flavor: str | None = None,
    ip: str | None = None,
    tags: str | None = None,
    not_tags: str | None = Query(default=None, alias="not-tags"),
) -> dict[str, Any]:
    who = principal(request, project_id)
    if tags is not None or not_tags is not None:
        # Servers have no tags here: ignoring the filter would return servers it excludes.
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Server tags are not supported: tags and not-tags filters."
        )
    page = max(offset, 1)
    c = container(request)
    flt = ServerFilter(status=status, name=name, flavor=flavor, ip=ip)
    rows, total = list_servers(
        c.uow_factory, c.driver, who.project_id, flt=flt, limit=limit, offset=(page - 1) * limit
    )
    return {"count": total, "servers": [server_detail(s, ctx) for s, ctx in rows]}


@router.get(
    "/v1/{project_id}/cloudservers/{server_id}",
    response_model=None,
    responses={200: {"model": ServerEnvelope}},
)
def show_server(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    c = container(request)
    server, ctx = query_server(c.uow_factory, c.driver, who.project_id, server_id)
    return {"server": server_detail(server, ctx)}


class ServerRef(BaseModel):
    id: StrictStr


class StopOption(BaseModel):
    servers: list[ServerRef]
    type: StrictStr | None = None


class StartOption(BaseModel):
    servers: list[ServerRef]


class RebootOption(BaseModel):
    servers: list[ServerRef]
    type: StrictStr


class ServerAction(BaseModel):
    os_stop: StopOption | None = Field(default=None, alias="os-stop")
    os_start: StartOption | None = Field(default=None, alias="os-start")
    reboot: RebootOption | None = None


class JobAccepted(BaseModel):
    job_id: str


@router.post(
    "/v1/{project_id}/cloudservers/action",
    response_model=JobAccepted,
    openapi_extra=json_body(ServerAction),
)
async def batch_action(project_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, ServerAction)
    given = [a for a in (body.os_stop, body.os_start, body.reboot) if a is not None]
    if len(given) != 1:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Give exactly one action: os-stop, os-start or reboot."
        )
    if body.reboot is not None:
        if body.reboot.type not in ("SOFT", "HARD"):
            raise errors.EcsError(errors.INVALID_PARAMETER, "reboot.type must be SOFT or HARD.")
        token = await client_token(request)
        ids = [s.id for s in body.reboot.servers]
        return await run_in_threadpool(
            _reboot, request, project_id, ids, body.reboot.type == "HARD", token
        )
    if body.os_stop is not None and body.os_stop.type not in (None, "SOFT", "HARD"):
        raise errors.EcsError(errors.INVALID_PARAMETER, "os-stop.type must be SOFT or HARD.")
    option = body.os_stop or body.os_start
    assert option is not None
    ids = [s.id for s in option.servers]
    hard = body.os_stop is not None and body.os_stop.type == "HARD"
    token = await client_token(request)
    return await run_in_threadpool(
        _accept, request, project_id, ids, body.os_stop is not None, token, hard
    )


def _reboot(
    request: Request, project_id: str, ids: list[str], hard: bool, token: ClientToken | None
) -> JobAccepted:
    c = container(request)
    who = principal(request, project_id)
    job_id = accept_reboot(
        project_id=who.project_id,
        server_ids=ids,
        hard=hard,
        uow_factory=c.uow_factory,
        clock=c.clock,
        client_token=token,
    )
    c.runner.wake()
    return JobAccepted(job_id=job_id)


def _accept(
    request: Request,
    project_id: str,
    ids: list[str],
    stop: bool,
    token: ClientToken | None,
    hard: bool = False,
) -> JobAccepted:
    c = container(request)
    who = principal(request, project_id)
    job_id = accept_power_action(
        project_id=who.project_id,
        server_ids=ids,
        stop=stop,
        hard=hard,
        uow_factory=c.uow_factory,
        clock=c.clock,
        client_token=token,
    )
    c.runner.wake()
    return JobAccepted(job_id=job_id)
