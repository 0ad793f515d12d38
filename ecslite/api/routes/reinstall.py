"""POST /v2/{project_id}/cloudservers/{server_id}/reinstallos and .../changeos (the same
request with the image to change to: ``os-change.imageid``), and their v1 forms for images
without Cloud-Init (no ``user_data``; images with or without cloud-init are accepted)."""

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


class V1Metadata(BaseModel):
    # No user_data: the v1 API has none, and a field the route does not support is refused.
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    byol: StrictStr | None = Field(default=None, alias="BYOL")
    system_encrypted: StrictStr | None = Field(default=None, alias="__system__encrypted")
    system_cmkid: StrictStr | None = Field(default=None, alias="__system__cmkid")


class V1Reinstall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adminpass: StrictStr | None = None
    keyname: StrictStr | None = None
    userid: StrictStr | None = None
    metadata: V1Metadata | None = None
    mode: Literal["withStopServer"] | None = None


class V1ReinstallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    os_reinstall: V1Reinstall = Field(alias="os-reinstall")


class V1Change(V1Reinstall):
    imageid: StrictStr
    is_auto_pay: StrictStr | None = None


class V1ChangeOsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    os_change: V1Change = Field(alias="os-change")


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


@router.post(
    "/v1/{project_id}/cloudservers/{server_id}/reinstallos",
    response_model=JobAccepted,
    openapi_extra=json_body(V1ReinstallBody),
)
async def reinstall_server_v1(project_id: str, server_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, V1ReinstallBody)
    token = await client_token(request)
    return await run_in_threadpool(
        _accept, request, project_id, server_id, body.os_reinstall, token, None, True
    )


@router.post(
    "/v1/{project_id}/cloudservers/{server_id}/changeos",
    response_model=JobAccepted,
    openapi_extra=json_body(V1ChangeOsBody),
)
async def change_os_v1(project_id: str, server_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, V1ChangeOsBody)
    token = await client_token(request)
    return await run_in_threadpool(
        _accept, request, project_id, server_id, body.os_change, token, body.os_change.imageid, True
    )


def _accept(
    request: Request,
    project_id: str,
    server_id: str,
    req: OsReinstall | V1Reinstall,
    token: ClientToken | None,
    image_id: str | None = None,
    any_image: bool = False,
) -> JobAccepted:
    meta = req.metadata or ReinstallMetadata()
    user_data = meta.user_data if isinstance(meta, ReinstallMetadata) else None
    who = principal(request, project_id)
    command = ReinstallServer(
        project_id=who.project_id,
        server_id=server_id,
        keyname=req.keyname,
        userid=req.userid,
        adminpass=req.adminpass,
        # The wire's base64 is undone here; the size and content rules are the command's.
        user_data=decode_user_data(user_data) if user_data is not None else None,
        byol=meta.byol == "true",
        system_encrypted=meta.system_encrypted,
        system_cmkid=meta.system_cmkid,
        stop_first=req.mode == "withStopServer",
        client_token=token,
        image_id=image_id,
        any_image=any_image,
    )
    return JobAccepted(job_id=services(request).ops.submit(command).job_id)
