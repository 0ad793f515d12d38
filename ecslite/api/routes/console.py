"""A server's console output: what the guest printed on its serial console.

Two shapes of one query: Nova's ``os-getConsoleOutput`` server action under /v2.1 and the ECS
``console-output`` GET under /v1 (the official SDK's ``show_server_console_output``). Both
answer ``{"output": "..."}`` with the last ``length`` lines (all recent output for -1/none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import container, principal
from ecslite.domain import errors

router = APIRouter()
DEFAULT_LINES = 50


class ConsoleOutputOption(BaseModel):
    # Nova accepts an integer or a string holding one; null means everything.
    length: int | str | None = None


class ServerAction(BaseModel):
    get_console_output: ConsoleOutputOption | None = Field(
        default=None, alias="os-getConsoleOutput"
    )


def _lines(length: int | str | None) -> int | None:
    if length is None:
        return None
    try:
        n = int(length)
    except ValueError:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "os-getConsoleOutput.length must be an integer."
        ) from None
    if n < -1:
        raise errors.EcsError(errors.INVALID_PARAMETER, "length must be -1 or more.")
    return None if n == -1 else n


def _output(request: Request, project_id: str, server_id: str, lines: int | None) -> dict[str, Any]:
    c = container(request)
    who = principal(request, project_id)
    with c.uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, who.project_id)
    if server is None:
        raise errors.EcsError(errors.SERVER_NOT_FOUND)
    return {"output": c.driver.console_output(server, lines)}


@router.post("/v2.1/{project_id}/servers/{server_id}/action")
async def server_action(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    body = await parse_body(request, ServerAction)
    if body.get_console_output is None:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Supported server action: os-getConsoleOutput."
        )
    lines = _lines(body.get_console_output.length)
    return await run_in_threadpool(_output, request, project_id, server_id, lines)


@router.get("/v1/{project_id}/cloudservers/{server_id}/console-output")
def console_output(
    project_id: str,
    server_id: str,
    request: Request,
    length: int = Query(default=DEFAULT_LINES, ge=-1),
) -> dict[str, Any]:
    return _output(request, project_id, server_id, None if length == -1 else length)
