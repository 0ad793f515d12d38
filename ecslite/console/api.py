"""The console's JSON endpoints under /console/api: what the page reads and what it changes.

``GET /console/api/events`` is the API's event stream (``GET /v1/{project_id}/events``, the same
code) for the session's project: the page's one EventSource. The other reads answer the API's
wire shapes (``{"servers": [ShowServer]}``, the GET-job JSON), which the stream carries too; the
page falls back to them when the stream keeps failing. Every mutation needs the session's CSRF
token in ``X-CSRF-Token``; errors use the ECS envelope so the dialog can show the API's own
message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.openapi import json_body
from ecslite.api.routes.events import event_stream
from ecslite.console import actions
from ecslite.console.session import (
    CSRF_HEADER,
    PREFIX,
    Session,
    check_csrf,
    current_session,
    services,
)
from ecslite.domain import errors
from ecslite.services.event_feed import StreamFilter

router = APIRouter(prefix=f"{PREFIX}/api", include_in_schema=False)


async def _session(request: Request, *, mutation: bool = False) -> Session:
    session = await current_session(request)
    if session is None:
        raise errors.EcsError(errors.UNAUTHORIZED)
    if mutation:
        check_csrf(session, request.headers.get(CSRF_HEADER))
    return session


@router.get("/events")
async def events(
    request: Request,
    job_id: str | None = Query(default=None, min_length=1, max_length=64),
    server_id: str | None = Query(default=None, min_length=1, max_length=64),
) -> EventSourceResponse:
    """The session's project's event stream; resumes from ``Last-Event-ID`` like the API's."""
    s = await _session(request)
    return await event_stream(request, StreamFilter(s.principal.project_id, job_id, server_id))


@router.get("/servers")
async def servers(request: Request) -> dict[str, Any]:
    s = await _session(request)
    return {
        "servers": await run_in_threadpool(actions.list_servers, services(request), s.principal)
    }


@router.get("/servers/{server_id}")
async def server(request: Request, server_id: str) -> dict[str, Any]:
    s = await _session(request)
    c = services(request)
    return {"server": await run_in_threadpool(actions.show_server, c, s.principal, server_id)}


@router.get("/jobs")
async def jobs(request: Request, server_id: str | None = None) -> dict[str, Any]:
    s = await _session(request)
    c = services(request)
    found = await run_in_threadpool(actions.recent_jobs, c, s.principal, server_id=server_id)
    return {"jobs": found}


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: str) -> dict[str, Any]:
    s = await _session(request)
    return await run_in_threadpool(actions.show_job, services(request), s.principal, job_id)


class ConsoleReinstallBody(BaseModel):
    keyname: StrictStr | None = None
    adminpass: StrictStr | None = Field(default=None, repr=False)
    user_data: StrictStr | None = None
    cmk_id: StrictStr | None = None
    stop_first: StrictBool = False


class ConsoleChangeOsBody(ConsoleReinstallBody):
    image_id: StrictStr


def _form(body: ConsoleReinstallBody, image_id: str | None = None) -> actions.ReinstallForm:
    return actions.ReinstallForm(
        keyname=body.keyname or None,
        adminpass=body.adminpass or None,
        user_data=body.user_data or None,
        cmk_id=body.cmk_id or None,
        stop_first=body.stop_first,
        image_id=image_id,
    )


@router.post("/servers/{server_id}/reinstall", openapi_extra=json_body(ConsoleReinstallBody))
async def reinstall(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    form = _form(await parse_body(request, ConsoleReinstallBody))
    c = services(request)
    job_id = await run_in_threadpool(actions.reinstall, c, s.principal, server_id, form)
    return {"job_id": job_id}


@router.post("/servers/{server_id}/changeos", openapi_extra=json_body(ConsoleChangeOsBody))
async def change_os(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ConsoleChangeOsBody)
    form = _form(body, body.image_id)
    c = services(request)
    job_id = await run_in_threadpool(actions.reinstall, c, s.principal, server_id, form)
    return {"job_id": job_id}


class ConsoleResetPasswordBody(BaseModel):
    password: StrictStr = Field(repr=False)


@router.post(
    "/servers/{server_id}/reset-password", openapi_extra=json_body(ConsoleResetPasswordBody)
)
async def reset_password(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ConsoleResetPasswordBody)
    c = services(request)
    job_id = await run_in_threadpool(
        actions.reset_password, c, s.principal, server_id, body.password
    )
    return {"job_id": job_id}


@router.post("/servers/{server_id}/remote-console")
async def remote_console(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    c = services(request)
    token = await run_in_threadpool(actions.remote_console_token, c, s.principal, server_id)
    return {"url": f"{PREFIX}/remote/{token}"}


class ConsoleCreateBody(BaseModel):
    name: StrictStr
    image_id: StrictStr
    flavor_id: StrictStr
    subnet_id: StrictStr
    keyname: StrictStr | None = None
    adminpass: StrictStr | None = Field(default=None, repr=False)
    data_disk_gb: StrictInt | None = None


@router.post("/servers", openapi_extra=json_body(ConsoleCreateBody))
async def create_server(request: Request) -> dict[str, str]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ConsoleCreateBody)
    form = actions.CreateForm(
        name=body.name,
        image_id=body.image_id,
        flavor_id=body.flavor_id,
        subnet_id=body.subnet_id,
        keyname=body.keyname or None,
        adminpass=body.adminpass or None,
        data_disk_gb=body.data_disk_gb or None,
    )
    c = services(request)
    job_id, server_id = await run_in_threadpool(actions.create_server, c, s.principal, form)
    return {"job_id": job_id, "server_id": server_id}


class ConsoleDeleteBody(BaseModel):
    delete_volume: StrictBool = False


@router.post("/servers/{server_id}/delete", openapi_extra=json_body(ConsoleDeleteBody))
async def delete_server(request: Request, server_id: str) -> dict[str, str]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ConsoleDeleteBody)
    job_id = await run_in_threadpool(
        lambda: actions.delete_server(
            services(request), s.principal, server_id, delete_volume=body.delete_volume
        )
    )
    return {"job_id": job_id}


class ConsoleKeypairBody(BaseModel):
    name: StrictStr
    public_key: StrictStr | None = None


@router.post("/keypairs", openapi_extra=json_body(ConsoleKeypairBody))
async def create_keypair(request: Request) -> dict[str, Any]:
    s = await _session(request, mutation=True)
    body = await parse_body(request, ConsoleKeypairBody)
    created = await run_in_threadpool(
        lambda: actions.add_keypair(
            services(request), s.principal, name=body.name, public_key=body.public_key or None
        )
    )
    out: dict[str, Any] = {"name": created.keypair.name, "fingerprint": created.keypair.fingerprint}
    if created.private_key is not None:
        out["private_key"] = created.private_key  # shown once: nothing keeps it
    return {"keypair": out}


@router.delete("/keypairs/{name}", status_code=204)
async def delete_keypair(request: Request, name: str) -> Response:
    s = await _session(request, mutation=True)
    await run_in_threadpool(actions.delete_keypair, services(request), s.principal, name)
    return Response(status_code=204)
