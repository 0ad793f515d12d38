"""POST /v2/{project_id}/cloudservers/{server_id}/reinstallos and .../changeos (the same
request with the image to change to: ``os-change.imageid``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import principal, services
from ecslite.api.openapi import json_body
from ecslite.api.schemas import JobAccepted
from ecslite.domain.reinstall import decode_user_data
from ecslite.services.idempotency import ClientToken
from ecslite.services.reinstall import ReinstallServer

router = APIRouter()


class ReinstallMetadata(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    byol: StrictStr | None = Field(default=None, alias="BYOL")
    user_data: StrictStr | None = None
    system_encrypted: StrictStr | None = Field(default=None, alias="__system__encrypted")
    system_cmkid: StrictStr | None = Field(default=None, alias="__system__cmkid")


class OsReinstall(BaseModel):
    adminpass: StrictStr | None = None
    keyname: StrictStr | None = None
    userid: StrictStr | None = None
    metadata: ReinstallMetadata | None = None
    mode: Literal["withStopServer"] | None = None


class ReinstallBody(BaseModel):
    os_reinstall: OsReinstall = Field(alias="os-reinstall")


class OsChange(OsReinstall):
    imageid: StrictStr
    is_auto_pay: StrictStr | None = None


class ChangeOsBody(BaseModel):
    os_change: OsChange = Field(alias="os-change")


@router.post(
    "/v2/{project_id}/cloudservers/{server_id}/reinstallos",
    response_model=JobAccepted,
    openapi_extra=json_body(ReinstallBody),
)
async def reinstall_server(project_id: str, server_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, ReinstallBody)
    token = await client_token(request)
    return await run_in_threadpool(
        _accept, request, project_id, server_id, body.os_reinstall, token
    )


@router.post(
    "/v2/{project_id}/cloudservers/{server_id}/changeos",
    response_model=JobAccepted,
    openapi_extra=json_body(ChangeOsBody),
)
async def change_os(project_id: str, server_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, ChangeOsBody)
    token = await client_token(request)
    return await run_in_threadpool(
        _accept, request, project_id, server_id, body.os_change, token, body.os_change.imageid
    )


def _accept(
    request: Request,
    project_id: str,
    server_id: str,
    req: OsReinstall,
    token: ClientToken | None,
    image_id: str | None = None,
) -> JobAccepted:
    meta = req.metadata or ReinstallMetadata()
    who = principal(request, project_id)
    command = ReinstallServer(
        project_id=who.project_id,
        server_id=server_id,
        keyname=req.keyname,
        userid=req.userid,
        adminpass=req.adminpass,
        # The wire's base64 is undone here; the size and content rules are the command's.
        user_data=decode_user_data(meta.user_data) if meta.user_data is not None else None,
        byol=meta.byol == "true",
        system_encrypted=meta.system_encrypted,
        system_cmkid=meta.system_cmkid,
        stop_first=req.mode == "withStopServer",
        client_token=token,
        image_id=image_id,
    )
    return JobAccepted(job_id=services(request).ops.submit(command).job_id)
