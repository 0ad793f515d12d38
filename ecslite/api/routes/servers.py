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
from ecslite.domain.server import Server
from ecslite.drivers.base import Driver
from ecslite.services.idempotency import ClientToken
from ecslite.services.power import accept_power_action
from ecslite.store.uow import UnitOfWork

router = APIRouter()


def _details(uow: UnitOfWork, driver: Driver, servers: list[Server]) -> list[dict[str, Any]]:
    volumes = uow.volumes.attached_to([s.id for s in servers])
    images: dict[str, Any] = {}
    out = []
    for s in servers:
        if s.image_id not in images:
            images[s.image_id] = uow.catalog.image(s.image_id)
        out.append(
            server_detail(s, volumes[s.id], images[s.image_id], driver.guest_network(s.id))
        )
    return out


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
) -> dict[str, Any]:
    who = principal(request, project_id)
    page = max(offset, 1)
    c = container(request)
    with c.uow_factory(write=False) as uow:
        servers, total = uow.servers.list(
            who.project_id, limit=limit, offset=(page - 1) * limit, status=status, name=name
        )
        return {"count": total, "servers": _details(uow, c.driver, servers)}


@router.get(
    "/v1/{project_id}/cloudservers/{server_id}",
    response_model=None,
    responses={200: {"model": ServerEnvelope}},
)
def show_server(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    c = container(request)
    with c.uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, who.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return {"server": _details(uow, c.driver, [server])[0]}


class ServerRef(BaseModel):
    id: StrictStr


class StopOption(BaseModel):
    servers: list[ServerRef]
    type: StrictStr | None = None


class StartOption(BaseModel):
    servers: list[ServerRef]


class ServerAction(BaseModel):
    os_stop: StopOption | None = Field(default=None, alias="os-stop")
    os_start: StartOption | None = Field(default=None, alias="os-start")


class JobAccepted(BaseModel):
    job_id: str


@router.post(
    "/v1/{project_id}/cloudservers/action",
    response_model=JobAccepted,
    openapi_extra=json_body(ServerAction),
)
async def batch_action(project_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, ServerAction)
    if (body.os_stop is None) == (body.os_start is None):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Give exactly one action: os-stop or os-start."
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
