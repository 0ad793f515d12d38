"""One-click password reset under /v1/{project_id}/cloudservers: reset one server's password
(``os-reset-password``, 204), several at once (``os-reset-passwords``, with ``dry_run``),
whether a server's image can reset a running guest's password (``os-resetpwd-flag``) and the
server's encrypted password (``os-server-password``, GET and DELETE).

The reset itself runs as a job (one sub-job per server); the reference answers without a job
id, so the id is given in the ``X-Ecslite-Job-Id`` header for clients that want to follow it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import principal, services
from ecslite.api.openapi import json_body
from ecslite.domain import errors
from ecslite.services.idempotency import ClientToken
from ecslite.services.password import ResetPasswords

router = APIRouter()
JOB_HEADER = "X-Ecslite-Job-Id"


class ResetOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: StrictStr = Field(repr=False)
    is_check_password: StrictBool | None = None


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reset_password: ResetOption = Field(alias="reset-password")


class ServerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr


class BatchResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: StrictStr = Field(repr=False)
    dry_run: StrictBool = False
    servers: list[ServerRef]


def _checked(is_check_password: bool | None) -> None:
    # Skipping the complexity rules is not offered: a weak root password on a server is not
    # something a flag should make possible.
    if is_check_password is False:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            "is_check_password=false is not supported: the password rules always apply.",
        )


@router.put(
    "/v1/{project_id}/cloudservers/os-reset-passwords",
    response_model=None,
    openapi_extra=json_body(BatchResetBody),
)
async def batch_reset(project_id: str, request: Request) -> Response:
    body = await parse_body(request, BatchResetBody)
    token = await client_token(request)
    ids = tuple(s.id for s in body.servers)
    job_id = await run_in_threadpool(
        _submit, request, project_id, ids, body.new_password, body.dry_run, token
    )
    resp = Response(
        content=json.dumps({"response": [{"id": sid} for sid in ids]}),
        media_type="application/json",
    )
    if job_id:
        resp.headers[JOB_HEADER] = job_id
    return resp


@router.put(
    "/v1/{project_id}/cloudservers/{server_id}/os-reset-password",
    status_code=204,
    response_model=None,
    openapi_extra=json_body(ResetBody),
)
async def reset_password(project_id: str, server_id: str, request: Request) -> Response:
    body = await parse_body(request, ResetBody)
    _checked(body.reset_password.is_check_password)
    token = await client_token(request)
    job_id = await run_in_threadpool(
        _submit,
        request,
        project_id,
        (server_id,),
        body.reset_password.new_password,
        False,
        token,
    )
    return Response(status_code=204, headers={JOB_HEADER: job_id})


def _submit(
    request: Request,
    project_id: str,
    server_ids: tuple[str, ...],
    new_password: str,
    dry_run: bool,
    token: ClientToken | None,
) -> str:
    who = principal(request, project_id)
    command = ResetPasswords(
        project_id=who.project_id,
        server_ids=server_ids,
        new_password=new_password,
        dry_run=dry_run,
        client_token=token,
    )
    return services(request).ops.submit(command).job_id


@router.get("/v1/{project_id}/cloudservers/{server_id}/os-resetpwd-flag")
def resetpwd_flag(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    record = services(request).servers.show(who.project_id, server_id)
    supported = record.image is not None and record.image.password_agent
    return {"resetpwd_flag": "True" if supported else "False"}


@router.get("/v1/{project_id}/cloudservers/{server_id}/os-server-password")
def server_password(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    services(request).servers.show(who.project_id, server_id)
    # Only a Windows guest posts its generated password (encrypted with the key pair); the
    # Linux guests ecslite runs never do, so there is never one to show.
    return {"password": ""}


@router.delete(
    "/v1/{project_id}/cloudservers/{server_id}/os-server-password",
    status_code=204,
    response_model=None,
)
def delete_server_password(project_id: str, server_id: str, request: Request) -> Response:
    who = principal(request, project_id)
    services(request).servers.show(who.project_id, server_id)
    return Response(status_code=204)
