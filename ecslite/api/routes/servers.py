"""Server queries and batch power actions under /v1/{project_id}/cloudservers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import principal, services
from ecslite.api.json_body import JsonBody
from ecslite.api.openapi import json_body
from ecslite.api.schemas import JobAccepted as JobAcceptedBody
from ecslite.api.schemas import ServerEnvelope, ServerList
from ecslite.api.views import server_detail
from ecslite.domain import errors
from ecslite.services.command import Command, JobAccepted
from ecslite.services.idempotency import ClientToken
from ecslite.services.lifecycle import RebootServers
from ecslite.services.power import PowerServers
from ecslite.services.read_model import ServerFilter

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
) -> JsonBody:
    who = principal(request, project_id)
    if tags is not None or not_tags is not None:
        # Servers have no tags here: ignoring the filter would return servers it excludes.
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Server tags are not supported: tags and not-tags filters."
        )
    page = max(offset, 1)
    flt = ServerFilter(status=status, name=name, flavor=flavor, ip=ip)
    records, total = services(request).servers.page(
        who.project_id, flt=flt, limit=limit, offset=(page - 1) * limit
    )
    return JsonBody({"count": total, "servers": [server_detail(r) for r in records]})


@router.get(
    "/v1/{project_id}/cloudservers/{server_id}",
    response_model=None,
    responses={200: {"model": ServerEnvelope}},
)
def show_server(project_id: str, server_id: str, request: Request) -> JsonBody:
    who = principal(request, project_id)
    record = services(request).servers.show(who.project_id, server_id)
    return JsonBody({"server": server_detail(record)})


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


# The batch actions by name: each builds its command from its option (moto's habit of one
# method per action, found by name, instead of an if-chain).
def _stop(project_id: str, option: Any, token: ClientToken | None) -> PowerServers:
    if option.type not in (None, "SOFT", "HARD"):
        raise errors.EcsError(errors.INVALID_PARAMETER, "os-stop.type must be SOFT or HARD.")
    return PowerServers(
        project_id, _ids(option), stop=True, hard=option.type == "HARD", client_token=token
    )


def _start(project_id: str, option: Any, token: ClientToken | None) -> PowerServers:
    return PowerServers(project_id, _ids(option), stop=False, client_token=token)


def _reboot(project_id: str, option: Any, token: ClientToken | None) -> RebootServers:
    if option.type not in ("SOFT", "HARD"):
        raise errors.EcsError(errors.INVALID_PARAMETER, "reboot.type must be SOFT or HARD.")
    return RebootServers(project_id, _ids(option), hard=option.type == "HARD", client_token=token)


def _ids(option: Any) -> tuple[str, ...]:
    return tuple(s.id for s in option.servers)


_ACTIONS: dict[str, Callable[[str, Any, ClientToken | None], Command[JobAccepted]]] = {
    "os_stop": _stop,
    "os_start": _start,
    "reboot": _reboot,
}


@router.post(
    "/v1/{project_id}/cloudservers/action",
    response_model=JobAcceptedBody,
    openapi_extra=json_body(ServerAction),
)
async def batch_action(project_id: str, request: Request) -> JobAcceptedBody:
    body = await parse_body(request, ServerAction)
    given = [name for name in _ACTIONS if getattr(body, name) is not None]
    if len(given) != 1:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Give exactly one action: os-stop, os-start or reboot."
        )
    who = principal(request, project_id)
    token = await client_token(request)
    command = _ACTIONS[given[0]](who.project_id, getattr(body, given[0]), token)
    accepted = await run_in_threadpool(services(request).ops.submit, command)
    return JobAcceptedBody(job_id=accepted.job_id)
