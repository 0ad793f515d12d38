"""Remote console URLs: ECS ``POST /v1/{project_id}/cloudservers/{server_id}/remote_console``
and Nova ``POST /v2.1/{project_id}/servers/{server_id}/remote-consoles`` (microversion 2.6+),
plus Nova's ``changePassword`` server action (the one-click reset's Nova door).

Both console doors answer a URL on this service, ``/console/remote/<token>``, carrying a
one-time token bound to the server and project (services/remote_console.py); that page opens
noVNC on a WebSocket to the guest's screen (console/remote.py).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.openapi import json_body
from ecslite.domain import errors
from ecslite.services.password import ResetPasswords

router = APIRouter()
nova_router = APIRouter()
REMOTE_PATH = "/console/remote/"


class ConsoleOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["novnc"]
    protocol: Literal["vnc"]


class ConsoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remote_console: ConsoleOption


def _url(request: Request, project_id: str, server_id: str) -> dict[str, Any]:
    who = principal(request, project_id)
    issued = services(request).consoles.issue(who.project_id, server_id)
    base = str(request.base_url).rstrip("/")
    return {"type": "novnc", "protocol": "vnc", "url": f"{base}{REMOTE_PATH}{issued.token}"}


@router.post(
    "/v1/{project_id}/cloudservers/{server_id}/remote_console",
    response_model=None,
    openapi_extra=json_body(ConsoleBody),
)
async def remote_console(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    await parse_body(request, ConsoleBody)
    url = await run_in_threadpool(_url, request, project_id, server_id)
    return {"remote_console": url}


@nova_router.post(
    "/v2.1/{project_id}/servers/{server_id}/remote-consoles",
    response_model=None,
    openapi_extra=json_body(ConsoleBody),
)
async def nova_remote_console(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Response:
    if not v.at_least(6):
        # Below 2.6 the route does not exist in Nova (the get*Console actions served it).
        raise NovaFault(404, "The resource could not be found.")
    await parse_body(request, ConsoleBody)
    try:
        url = await run_in_threadpool(_url, request, project_id, server_id)
    except errors.EcsError as exc:
        if exc.spec is errors.SERVER_NOT_FOUND:
            raise NovaFault(404, f"Instance {server_id} could not be found.") from None
        if exc.spec is errors.BAD_SERVER_STATE:
            raise NovaFault(409, f"Instance {server_id} is not ready.") from None
        raise
    return Response(
        content=json.dumps({"remote_console": url}),
        media_type="application/json",
        headers=echo_headers(v),
    )


class ChangePassword(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    admin_pass: StrictStr = Field(alias="adminPass", repr=False)


def change_password(request: Request, project_id: str, server_id: str, option: Any) -> None:
    """Nova's ``changePassword`` action (202): the one-click reset of a running server."""
    opt = ChangePassword.model_validate(option)
    who = principal(request, project_id)
    try:
        services(request).ops.submit(
            ResetPasswords(
                project_id=who.project_id,
                server_ids=(server_id,),
                new_password=opt.admin_pass,
                nova=True,
            )
        )
    except errors.EcsError as exc:
        if exc.spec is errors.SERVER_NOT_FOUND:
            raise NovaFault(404, f"Instance {server_id} could not be found.") from None
        raise
