"""Nova's server writes under /v2.1/{project_id}: create, delete in any state, update.

Each is one more door onto a command other doors use: ``POST /servers`` builds the same
``CreateServers`` as ECS's create (with Nova's options: ``networks``, min/max count, access
addresses), ``DELETE`` is ``DeleteServerAnyState`` (a running job is cancelled with its
compensation first), ``PUT`` is ``UpdateServer``. The rules and the wire decisions are in
docs/api.md ("Nova server create, delete and update").
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.nova.views import rebuild_detail, server_detail
from ecslite.api.openapi import json_body
from ecslite.api.openstack_headers import job_request_headers
from ecslite.domain import errors
from ecslite.domain.create import DiskRequest
from ecslite.domain.reinstall import decode_user_data
from ecslite.services.cancel import DeleteServerAnyState
from ecslite.services.create import CreateServers, NovaOptions
from ecslite.services.nova import UpdateServer

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v2.1"


def _last_part(ref: str) -> str:
    """An id given as itself or as a link ending in it (Nova accepts both)."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NetworkRef(_Strict):
    # ``port``, ``fixed_ip`` and ``tag`` would need ports ecslite does not model: refused.
    uuid: StrictStr = Field(min_length=1, max_length=64)


class SecurityGroupRef(_Strict):
    name: Literal["default"]


class BlockDeviceMapping(_Strict):
    """The one mapping that describes what a server here always has: a system disk made from
    the image (``local`` as clients send for a plain image boot, or ``volume`` with a size)."""

    uuid: StrictStr = Field(min_length=1, max_length=1024)
    boot_index: Literal[0, "0"]
    source_type: Literal["image"]
    destination_type: Literal["local", "volume"] = "local"
    volume_size: StrictInt | None = Field(default=None, ge=1)
    # The system disk is deleted with the server.
    delete_on_termination: Literal[True] = True


class NovaServerBody(_Strict):
    name: StrictStr = Field(min_length=1, max_length=255)
    image_ref: StrictStr | None = Field(default=None, alias="imageRef", max_length=1024)
    block_device_mapping_v2: list[BlockDeviceMapping] | None = Field(
        default=None, min_length=1, max_length=1
    )
    flavor_ref: StrictStr = Field(alias="flavorRef", min_length=1, max_length=1024)
    key_name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    admin_pass: StrictStr | None = Field(default=None, alias="adminPass")
    user_data: StrictStr | None = None
    min_count: StrictInt = Field(default=1, ge=1)
    max_count: StrictInt | None = Field(default=None, ge=1)
    return_reservation_id: StrictBool = False
    networks: Literal["auto", "none"] | list[NetworkRef] | None = None
    availability_zone: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    access_ipv4: StrictStr | None = Field(default=None, alias="accessIPv4")
    access_ipv6: StrictStr | None = Field(default=None, alias="accessIPv6")
    description: StrictStr | None = Field(default=None, max_length=255)
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(default=None, alias="OS-DCF:diskConfig")
    # Every server is in the one default group; naming it is harmless, another is refused.
    security_groups: list[SecurityGroupRef] | None = None
    config_drive: StrictBool | StrictStr | None = None
    tags: list[StrictStr] | None = None  # 2.52+


class NovaCreateBody(_Strict):
    server: NovaServerBody


def _networks(body: NovaServerBody, v: Microversion) -> tuple[str, ...] | None:
    nets = body.networks
    if nets is None:
        if v.at_least(37):
            raise NovaFault(400, "networks is required from microversion 2.37.")
        return None
    if isinstance(nets, str):
        if not v.at_least(37):
            raise NovaFault(400, f'networks "{nets}" needs microversion 2.37 or later.')
        return None if nets == "auto" else ()
    return tuple(n.uuid for n in nets)


def _access_ip(value: str | None, version: int) -> str | None:
    """The address in its canonical form (Nova keeps ``::babe:dc0c:1602`` for
    ``0000:...:babe:220.12.22.2``); 400 when it is not an address of that family."""
    if not value:
        return value
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise NovaFault(400, f"Invalid input: {value!r} is not an IPv{version} address.")
    return address.compressed


def _boot_source(body: NovaServerBody) -> tuple[str, DiskRequest | None]:
    """The image to boot and the system disk's size, from ``imageRef`` and the mapping."""
    image = _last_part(body.image_ref) if body.image_ref else None
    bdm = body.block_device_mapping_v2
    if bdm is None:
        if image is None:
            raise NovaFault(400, "imageRef is required (or a block_device_mapping_v2 image).")
        return image, None
    mapping = bdm[0]
    if image is not None and _last_part(mapping.uuid) != image:
        raise NovaFault(400, "block_device_mapping_v2 must boot the image named in imageRef.")
    if mapping.volume_size is not None and mapping.destination_type != "volume":
        raise NovaFault(400, "volume_size is for a destination_type volume mapping.")
    size = DiskRequest("SSD", mapping.volume_size) if mapping.volume_size else None
    return _last_part(mapping.uuid), size


@router.post("/v2.1/{project_id}/servers", openapi_extra=json_body(NovaCreateBody))
async def create_server(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> JSONResponse:
    body = (await parse_body(request, NovaCreateBody)).server
    return await run_in_threadpool(_create, request, project_id, body, v)


def _create(
    request: Request, project_id: str, body: NovaServerBody, v: Microversion
) -> JSONResponse:
    who = principal(request, project_id)
    max_count = body.max_count if body.max_count is not None else body.min_count
    if max_count < body.min_count:
        raise NovaFault(400, "min_count must be <= max_count.")
    if "description" in body.model_fields_set and not v.at_least(19):
        raise NovaFault(400, "description needs microversion 2.19 or later.")
    if "tags" in body.model_fields_set and not v.at_least(52):
        raise NovaFault(400, "tags needs microversion 2.52 or later.")
    access_ipv4 = _access_ip(body.access_ipv4, 4)
    access_ipv6 = _access_ip(body.access_ipv6, 6)
    image_id, root = _boot_source(body)
    passwords = services(request).nova_passwords

    def cloud_init() -> bool:
        image = services(request).catalog.image(who.project_id, image_id)
        return image is not None and image.cloud_init

    admin_pass = passwords.for_create(body.admin_pass, body.key_name, cloud_init)
    command = CreateServers(
        project_id=who.project_id,
        user_id=who.user_id,
        name=body.name,
        image_id=image_id,
        flavor_id=_last_part(body.flavor_ref),
        vpc_id="",
        subnet_ids=(),
        count=max_count,
        root_volume=root,
        key_name=body.key_name,
        admin_pass=admin_pass,
        user_data=decode_user_data(body.user_data) if body.user_data is not None else None,
        metadata=dict(body.metadata),
        availability_zone=body.availability_zone,
        nova=NovaOptions(
            networks=_networks(body, v),
            min_count=body.min_count,
            access_ipv4=access_ipv4,
            access_ipv6=access_ipv6,
            description=body.description,
            tags=tuple(body.tags or ()),
        ),
    )
    try:
        accepted = services(request).ops.submit(command)
    except errors.EcsError as exc:
        if exc.spec is errors.KEYPAIR_NOT_FOUND:
            # A bad member of the request, not a missing resource: Nova's 400 here.
            raise NovaFault(400, "Invalid key_name provided.") from None
        raise
    headers = {**echo_headers(v), **job_request_headers(accepted.job_id)}
    if body.return_reservation_id:
        return JSONResponse(
            status_code=202, content={"reservation_id": f"r-{accepted.job_id}"}, headers=headers
        )
    sid = accepted.server_ids[0]
    base = _base(request)
    bookmark = base.rsplit("/v2.1", 1)[0]
    server: dict[str, Any] = {
        "id": sid,
        "links": [
            {"rel": "self", "href": f"{base}/{who.project_id}/servers/{sid}"},
            {"rel": "bookmark", "href": f"{bookmark}/{who.project_id}/servers/{sid}"},
        ],
        "OS-DCF:diskConfig": body.disk_config or "MANUAL",
        "security_groups": [{"name": "default"}],
    }
    shown = passwords.shown(admin_pass)
    if shown is not None:
        server["adminPass"] = shown
    return JSONResponse(
        status_code=202,
        content={"server": server},
        headers={**headers, "Location": f"{base}/{who.project_id}/servers/{sid}"},
    )


@router.delete("/v2.1/{project_id}/servers/{server_id}")
def delete_server(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Response:
    who = principal(request, project_id)
    try:
        job = services(request).ops.submit(DeleteServerAnyState(who.project_id, server_id))
    except errors.EcsError as exc:
        if exc.spec is errors.SERVER_NOT_FOUND:
            raise NovaFault(404, f"Instance {server_id} could not be found.") from None
        raise
    return Response(
        status_code=204,
        headers={**echo_headers(v), **job_request_headers(job.job_id if job else None)},
    )


class UpdateFields(_Strict):
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    access_ipv4: StrictStr | None = Field(default=None, alias="accessIPv4")
    access_ipv6: StrictStr | None = Field(default=None, alias="accessIPv6")
    description: StrictStr | None = Field(default=None, max_length=255)
    # Accepted as Nova does; there is one disk layout.
    disk_config: Literal["AUTO", "MANUAL"] | None = Field(default=None, alias="OS-DCF:diskConfig")


class NovaUpdateBody(_Strict):
    server: UpdateFields


_COLUMNS = {
    "name": "name",
    "access_ipv4": "access_ipv4",
    "access_ipv6": "access_ipv6",
    "description": "description",
}


@router.put("/v2.1/{project_id}/servers/{server_id}", openapi_extra=json_body(NovaUpdateBody))
async def update_server(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> JSONResponse:
    body = (await parse_body(request, NovaUpdateBody)).server
    return await run_in_threadpool(_update, request, project_id, server_id, body, v)


def _update(
    request: Request, project_id: str, server_id: str, body: UpdateFields, v: Microversion
) -> JSONResponse:
    who = principal(request, project_id)
    sent = body.model_fields_set
    if "description" in sent and not v.at_least(19):
        raise NovaFault(400, "description needs microversion 2.19 or later.")
    if "name" in sent and body.name is None:
        raise NovaFault(400, "Invalid input for field/attribute name: None is not a string.")
    access = {
        "access_ipv4": _access_ip(body.access_ipv4, 4),
        "access_ipv6": _access_ip(body.access_ipv6, 6),
    }
    # An empty accessIP clears it, as Nova stores "" as none.
    values: dict[str, str | None] = {}
    for field, column in _COLUMNS.items():
        if field in sent:
            value = access.get(field, getattr(body, field))
            values[column] = value if field == "name" else (value or None)
    try:
        services(request).ops.submit(UpdateServer(who.project_id, server_id, values))
        record = services(request).servers.show(who.project_id, server_id)
    except errors.EcsError as exc:
        if exc.spec is errors.SERVER_NOT_FOUND:
            raise NovaFault(404, f"Instance {server_id} could not be found.") from None
        raise
    # Nova answers an update with the same reduced server as a rebuild below 2.75.
    return JSONResponse(
        content={"server": rebuild_detail(server_detail(record, _base(request), v))},
        headers=echo_headers(v),
    )
