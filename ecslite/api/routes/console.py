"""A server's console output: what the guest printed on its serial console.

Two shapes of one query: Nova's ``os-getConsoleOutput`` server action under /v2.1 (routed by
api/routes/nova_servers.py with the other Nova actions) and the ECS ``console-output`` GET
under /v1 (the official SDK's ``show_server_console_output``). Both answer
``{"output": "..."}`` with the last ``length`` lines (all recent output for -1/none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from ecslite.api.deps import principal, services
from ecslite.domain import errors

router = APIRouter()
DEFAULT_LINES = 50


def output_lines(length: int | str | None) -> int | None:
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


@router.get("/v1/{project_id}/cloudservers/{server_id}/console-output")
def console_output(
    project_id: str,
    server_id: str,
    request: Request,
    length: int = Query(default=DEFAULT_LINES, ge=-1),
) -> dict[str, Any]:
    who = principal(request, project_id)
    lines = None if length == -1 else length
    return {"output": services(request).servers.console_output(who.project_id, server_id, lines)}
