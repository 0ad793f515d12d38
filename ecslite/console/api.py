"""The console's JSON endpoints under /console/api: what the page polls and what it changes.

Reads answer the API's wire shapes (``{"servers": [ShowServer]}``, the GET-job JSON) so the
page's renderers also fit the event stream. Every mutation needs the session's CSRF token in
``X-CSRF-Token``; errors use the ECS envelope so the dialog can show the API's own message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.console import actions
from ecslite.console.session import (
    CSRF_HEADER,
    PREFIX,
    Session,
    check_csrf,
    container,
    current_session,
)
from ecslite.domain import errors

router = APIRouter(prefix=f"{PREFIX}/api", include_in_schema=False)


async def _session(request: Request, *, mutation: bool = False) -> Session:
    session = await current_session(request)
    if session is None:
        raise errors.EcsError(errors.UNAUTHORIZED)
    if mutation:
        check_csrf(session, request.headers.get(CSRF_HEADER))
    return session


@router.get("/servers")
async def servers(request: Request) -> dict[str, Any]:
    s = await _session(request)
    return {
        "servers": await run_in_threadpool(actions.list_servers, container(request), s.principal)
    }


@router.get("/servers/{server_id}")
async def server(request: Request, server_id: str) -> dict[str, Any]:
    s = await _session(request)
    c = container(request)
    return {"server": await run_in_threadpool(actions.show_server, c, s.principal, server_id)}


@router.get("/jobs")
async def jobs(request: Request, server_id: str | None = None) -> dict[str, Any]:
    s = await _session(request)
    c = container(request)
    found = await run_in_threadpool(actions.recent_jobs, c, s.principal, server_id=server_id)
    return {"jobs": found}


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: str) -> dict[str, Any]:
    s = await _session(request)
    return await run_in_threadpool(actions.show_job, container(request), s.principal, job_id)


class ReinstallBody(BaseModel):
    keyname: StrictStr | None = None
    adminpass: StrictStr | None = Field(default=None, repr=False)
    user_data: StrictStr | None = None
    cmk_id: StrictStr | None = None
    stop_first: StrictBool = False


@router.post("/servers/{server_id}/reinstall")
async def reinstall(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ReinstallBody)
    form = actions.ReinstallForm(
        keyname=body.keyname or None,
        adminpass=body.adminpass or None,
        user_data=body.user_data or None,
        cmk_id=body.cmk_id or None,
        stop_first=body.stop_first,
    )
    c = container(request)
    job_id = await run_in_threadpool(actions.reinstall, c, s.principal, server_id, form)
    return {"job_id": job_id}


class KeypairBody(BaseModel):
    name: StrictStr
    public_key: StrictStr | None = None


@router.post("/keypairs")
async def create_keypair(request: Request) -> dict[str, Any]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, KeypairBody)
    kp, private_key = await run_in_threadpool(
        lambda: actions.add_keypair(
            container(request), s.principal, name=body.name, public_key=body.public_key or None
        )
    )
    out: dict[str, Any] = {"name": kp.name, "fingerprint": kp.fingerprint}
    if private_key is not None:
        out["private_key"] = private_key  # shown once: nothing keeps it
    return {"keypair": out}


@router.delete("/keypairs/{name}", status_code=204)
async def delete_keypair(request: Request, name: str) -> Response:
    s = await _session(request, mutation=True)
    await run_in_threadpool(actions.delete_keypair, container(request), s.principal, name)
    return Response(status_code=204)
