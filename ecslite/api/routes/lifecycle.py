"""Create and delete servers: POST /v1/{p}/cloudservers, /v1.1/{p}/cloudservers (pay-per-use
only) and /v1/{p}/cloudservers/delete. Routes translate the wire body into a command."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token, parse_body
from ecslite.api.deps import principal, services
from ecslite.api.openapi import json_body
from ecslite.api.schemas import JobAccepted
from ecslite.domain import errors
from ecslite.domain.create import DiskRequest
from ecslite.domain.reinstall import decode_user_data
from ecslite.services.create import CreateServers
from ecslite.services.idempotency import ClientToken
from ecslite.services.lifecycle import DeleteServers

router = APIRouter()


class _Lenient(BaseModel):
    # Fields of the SDK models ecslite does not act on (tags, publicip, ...) are accepted and
    # ignored, as a cloud without that feature would; the ones it acts on are typed strictly.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class VolumeBody(_Lenient):
    volumetype: StrictStr
    size: StrictInt | None = None


class NicBody(_Lenient):
    subnet_id: StrictStr
    ip_address: StrictStr | None = None


class ExtendParam(_Lenient):
    charging_mode: StrictStr | StrictInt | None = Field(default=None, alias="chargingMode")


class ServerBody(_Lenient):
    name: StrictStr
    image_ref: StrictStr = Field(alias="imageRef")
    flavor_ref: StrictStr = Field(alias="flavorRef")
    vpcid: StrictStr
    nics: list[NicBody]
    root_volume: VolumeBody | None = None
    data_volumes: list[VolumeBody] = Field(default_factory=list)
    count: StrictInt = 1
    key_name: StrictStr | None = None
    admin_pass: StrictStr | None = Field(default=None, alias="adminPass")
    user_data: StrictStr | None = None
    metadata: dict[str, StrictStr] = Field(default_factory=dict)
    availability_zone: StrictStr | None = None
    extendparam: ExtendParam | None = None


class CreateBody(BaseModel):
    server: ServerBody
    dry_run: StrictBool = False


class ServerRef(BaseModel):
    id: StrictStr


class DeleteBody(BaseModel):
    servers: list[ServerRef]
    delete_volume: StrictBool = False
    delete_publicip: StrictBool = False


class CreateAccepted(BaseModel):
    job_id: str
    serverIds: list[str]
    order_id: str | None = None


@router.post(
    "/v1/{project_id}/cloudservers",
    response_model=CreateAccepted,
    openapi_extra=json_body(CreateBody),
)
async def create_post_paid(project_id: str, request: Request) -> CreateAccepted:
    body = await parse_body(request, CreateBody)
    token = await client_token(request)
    return await run_in_threadpool(_create, request, project_id, body, token)


@router.post(
    "/v1.1/{project_id}/cloudservers",
    response_model=CreateAccepted,
    openapi_extra=json_body(CreateBody),
)
async def create_servers(project_id: str, request: Request) -> CreateAccepted:
    body = await parse_body(request, CreateBody)
    mode = body.server.extendparam.charging_mode if body.server.extendparam else None
    if mode not in (None, "postPaid", 0, "0"):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Only pay-per-use servers (chargingMode postPaid) exist here."
        )
    token = await client_token(request)
    return await run_in_threadpool(_create, request, project_id, body, token)


def _create(
    request: Request, project_id: str, body: CreateBody, token: ClientToken | None
) -> CreateAccepted:
    who = principal(request, project_id)
    if body.dry_run:
        # Answering a dry run by creating servers would be worse than refusing it.
        raise errors.EcsError(errors.INVALID_PARAMETER, "dry_run is not supported.")
    s = body.server
    if any(n.ip_address for n in s.nics):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "nics[].ip_address is not supported: addresses are assigned."
        )
    root = None
    if s.root_volume is not None:
        root = DiskRequest(volume_type=s.root_volume.volumetype, size_gb=s.root_volume.size)
    command = CreateServers(
        project_id=who.project_id,
        user_id=who.user_id,
        name=s.name,
        image_id=s.image_ref,
        flavor_id=s.flavor_ref,
        vpc_id=s.vpcid,
        subnet_ids=tuple(n.subnet_id for n in s.nics),
        count=s.count,
        root_volume=root,
        data_volumes=tuple(
            DiskRequest(volume_type=v.volumetype, size_gb=v.size) for v in s.data_volumes
        ),
        key_name=s.key_name,
        admin_pass=s.admin_pass,
        user_data=decode_user_data(s.user_data) if s.user_data is not None else None,
        metadata=dict(s.metadata),
        availability_zone=s.availability_zone,
        client_token=token,
    )
    accepted = services(request).ops.submit(command)
    return CreateAccepted(job_id=accepted.job_id, serverIds=list(accepted.server_ids))


@router.post(
    "/v1/{project_id}/cloudservers/delete",
    response_model=JobAccepted,
    openapi_extra=json_body(DeleteBody),
)
async def delete_servers(project_id: str, request: Request) -> JobAccepted:
    body = await parse_body(request, DeleteBody)
    token = await client_token(request)
    return await run_in_threadpool(_delete, request, project_id, body, token)


def _delete(
    request: Request, project_id: str, body: DeleteBody, token: ClientToken | None
) -> JobAccepted:
    who = principal(request, project_id)
    command = DeleteServers(
        project_id=who.project_id,
        server_ids=tuple(s.id for s in body.servers),
        delete_volume=body.delete_volume,
        client_token=token,
    )
    return JobAccepted(job_id=services(request).ops.submit(command).job_id)
