"""POST /v2/{project_id}/cloudservers/{server_id}/reinstallos and .../changeos (the same
request with the image to change to: ``os-change.imageid``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import container, principal
from ecslite.api.openapi import json_body
from ecslite.cloudinit.payload import hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain.reinstall import check_credentials, decode_user_data, parse_encryption
from ecslite.services.idempotency import ClientToken
from ecslite.services.reinstall import ReinstallCommand, accept_reinstall

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


class JobAccepted(BaseModel):
    job_id: str


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
    user_data = decode_user_data(meta.user_data) if meta.user_data is not None else None
    if user_data is not None:
        check_user_data(user_data)
    check_credentials(
        adminpass=req.adminpass,
        keyname=req.keyname,
        userid=req.userid,
        has_user_data=bool(user_data),
    )
    encryption = parse_encryption(meta.system_encrypted, meta.system_cmkid)
    # The plaintext password stops here: only its SHA-512 crypt hash travels further.
    password_hash = hash_password(req.adminpass) if req.adminpass is not None else None
    c = container(request)
    who = principal(request, project_id)
    cmd = ReinstallCommand(
        project_id=who.project_id,
        server_id=server_id,
        keyname=req.keyname,
        userid=req.userid,
        password_hash=password_hash,
        user_data=user_data,
        byol=(meta.byol == "true"),
        encryption=encryption,
        stop_first=req.mode == "withStopServer",
        client_token=token,
        image_id=image_id,
        change_os=image_id is not None,
    )
    job_id = accept_reinstall(cmd, uow_factory=c.uow_factory, clock=c.clock)
    c.runner.wake()
    return JobAccepted(job_id=job_id)
