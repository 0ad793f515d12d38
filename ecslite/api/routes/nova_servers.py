"""Nova's servers under /v2.1/{project_id}: list, detail, show and the server actions.

Listing pages as Nova does (``limit`` and ``marker``, newest first, a ``servers_links`` next
link when a page is full). Actions: ``os-stop``, ``os-start``, ``os-getConsoleOutput`` and
``rebuild`` (a reinstall job, see services/nova.py and docs/api.md) and ``reboot`` (the reboot
job of ``batch_reboot_servers``, SOFT or HARD). Errors use Nova's envelope (api/nova/faults.py).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import container, principal
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.nova.views import addresses_of, server_detail, server_summary
from ecslite.api.routes.console import output_lines, server_console_output
from ecslite.cloudinit.payload import hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain.reinstall import check_password, decode_user_data
from ecslite.domain.server import Server
from ecslite.services.nova import (
    KEEP,
    RebuildCommand,
    accept_nova_reboot,
    accept_power,
    accept_rebuild,
)
from ecslite.store.uow import UnitOfWork

router = APIRouter(include_in_schema=False)

MAX_LIMIT = 1000
_CHUNK = 500


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v2.1"


def _page(
    uow: UnitOfWork,
    project_id: str,
    *,
    limit: int,
    marker: str | None,
    status: str | None,
    name: str | None,
) -> list[Server]:
    """The ``limit`` servers after ``marker`` in Nova's order (newest first)."""
    if marker is None:
        servers, _ = uow.servers.list(project_id, limit=limit, offset=0, status=status, name=name)
        return servers
    offset = 0
    while True:
        chunk, total = uow.servers.list(
            project_id, limit=_CHUNK, offset=offset, status=status, name=name
        )
        ids = [s.id for s in chunk]
        if marker in ids:
            start = offset + ids.index(marker) + 1
            servers, _ = uow.servers.list(
                project_id, limit=limit, offset=start, status=status, name=name
            )
            return servers
        offset += _CHUNK
        if offset >= total:
            raise NovaFault(400, f"marker [{marker}] not found")


def _list(
    request: Request,
    project_id: str,
    v: Microversion,
    *,
    detail: bool,
    limit: int | None,
    marker: str | None,
    status: str | None,
    name: str | None,
) -> dict[str, Any]:
    who = principal(request, project_id)
    size = min(limit if limit is not None else MAX_LIMIT, MAX_LIMIT)
    base = _base(request)
    with container(request).uow_factory(write=False) as uow:
        servers = _page(
            uow,
            who.project_id,
            limit=size,
            marker=marker,
            status=status.upper() if status else None,
            name=name,
        )
        if detail:
            volumes = uow.volumes.attached_to([s.id for s in servers])
            net = container(request).driver.guest_network
            items = [
                server_detail(s, volumes[s.id], base, v, addresses_of(net(s.id))) for s in servers
            ]
        else:
            items = [server_summary(s, base) for s in servers]
    out: dict[str, Any] = {"servers": items}
    if servers and len(servers) == size:
        query = {"limit": size, "marker": servers[-1].id}
        query.update({k: val for k, val in (("status", status), ("name", name)) if val})
        path = "servers/detail" if detail else "servers"
        out["servers_links"] = [
            {"rel": "next", "href": f"{base}/{project_id}/{path}?{urlencode(query)}"}
        ]
    return out


@router.get("/v2.1/{project_id}/servers")
def list_servers(
    project_id: str,
    request: Request,
    v: Microversion = Depends(microversion),
    limit: int | None = Query(default=None, ge=0),
    marker: str | None = None,
    status: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    return _list(
        request, project_id, v, detail=False, limit=limit, marker=marker, status=status, name=name
    )


@router.get("/v2.1/{project_id}/servers/detail")
def list_servers_detail(
    project_id: str,
    request: Request,
    v: Microversion = Depends(microversion),
    limit: int | None = Query(default=None, ge=0),
    marker: str | None = None,
    status: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    return _list(
        request, project_id, v, detail=True, limit=limit, marker=marker, status=status, name=name
    )


def _show(request: Request, project_id: str, server_id: str, v: Microversion) -> dict[str, Any]:
    who = principal(request, project_id)
    with container(request).uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, who.project_id)
        if server is None:
            raise NovaFault(404, f"Instance {server_id} could not be found.")
        volumes = uow.volumes.attached_to([server.id])[server.id]
    network = container(request).driver.guest_network(server.id)
    return {"server": server_detail(server, volumes, _base(request), v, addresses_of(network))}


@router.get("/v2.1/{project_id}/servers/{server_id}")
def show_server(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _show(request, project_id, server_id, v)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Rebuild(_Strict):
    image_ref: StrictStr = Field(alias="imageRef", min_length=1, max_length=1024)
    admin_pass: StrictStr | None = Field(default=None, alias="adminPass")
    key_name: StrictStr | None = Field(default=None, max_length=255)
    user_data: StrictStr | None = None
    name: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    metadata: dict[str, StrictStr] | None = None
    # Accepted and without effect here: there is one disk layout and no ephemeral disk.
    preserve_ephemeral: bool | None = None
    disk_config: StrictStr | None = Field(default=None, alias="OS-DCF:diskConfig")
    description: StrictStr | None = None
    access_ipv4: StrictStr | None = Field(default=None, alias="accessIPv4")
    access_ipv6: StrictStr | None = Field(default=None, alias="accessIPv6")


class ConsoleOutput(BaseModel):
    length: int | str | None = None


class RebootOption(BaseModel):
    type: Literal["SOFT", "HARD"]


class ServerAction(BaseModel):
    model_config = ConfigDict(extra="allow")

    os_stop: None = Field(default=None, alias="os-stop")
    os_start: None = Field(default=None, alias="os-start")
    console: ConsoleOutput | None = Field(default=None, alias="os-getConsoleOutput")
    rebuild: Rebuild | None = None
    reboot: RebootOption | None = None


_ACTIONS = ("os-stop", "os-start", "os-getConsoleOutput", "rebuild", "reboot")


@router.post("/v2.1/{project_id}/servers/{server_id}/action")
async def server_action(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Any:
    body = await parse_body(request, ServerAction)
    keys = _keys(body)
    given = [k for k in keys if k in _ACTIONS]
    if len(given) != 1 or len(keys) != 1:
        raise NovaFault(
            400,
            "Give exactly one action: os-stop, os-start, reboot, os-getConsoleOutput or rebuild.",
        )
    action = given[0]
    if action == "reboot":
        assert body.reboot is not None
        hard = body.reboot.type == "HARD"
        await run_in_threadpool(_reboot, request, project_id, server_id, hard)
        return Response(status_code=202, headers=echo_headers(v))
    if action == "os-getConsoleOutput":
        lines = output_lines(body.console.length if body.console else None)
        return await run_in_threadpool(server_console_output, request, project_id, server_id, lines)
    if action in ("os-stop", "os-start"):
        await run_in_threadpool(_power, request, project_id, server_id, action == "os-stop")
        return Response(status_code=202, headers=echo_headers(v))
    assert body.rebuild is not None
    return await run_in_threadpool(_rebuild, request, project_id, server_id, body.rebuild, v)


def _keys(body: ServerAction) -> list[str]:
    fields = {"os_stop": "os-stop", "os_start": "os-start", "console": "os-getConsoleOutput"}
    # model_fields_set also names the extra (unknown) keys.
    keys = [fields.get(f, f) for f in body.model_fields_set]
    return list(dict.fromkeys([*keys, *(body.model_extra or {})]))


def _power(request: Request, project_id: str, server_id: str, stop: bool) -> None:
    c = container(request)
    who = principal(request, project_id)
    accept_power(
        project_id=who.project_id,
        server_id=server_id,
        stop=stop,
        uow_factory=c.uow_factory,
        clock=c.clock,
    )
    c.runner.wake()


def _reboot(request: Request, project_id: str, server_id: str, hard: bool) -> None:
    c = container(request)
    who = principal(request, project_id)
    accept_nova_reboot(
        project_id=who.project_id,
        server_id=server_id,
        hard=hard,
        uow_factory=c.uow_factory,
        clock=c.clock,
    )
    c.runner.wake()


def _rebuild(
    request: Request, project_id: str, server_id: str, req: Rebuild, v: Microversion
) -> Response:
    sent = req.model_fields_set
    if "key_name" in sent and not v.at_least(54):
        raise NovaFault(400, "key_name in rebuild needs microversion 2.54 or later.")
    if "user_data" in sent and not v.at_least(57):
        raise NovaFault(400, "user_data in rebuild needs microversion 2.57 or later.")
    user_data: bytes | str | None = KEEP
    if "user_data" in sent:
        user_data = None
        if req.user_data is not None:
            user_data = decode_user_data(req.user_data)
            check_user_data(user_data)
    password_hash = None
    if req.admin_pass is not None:
        check_password(req.admin_pass)
        # The plaintext stops here: only the SHA-512 crypt hash travels on.
        password_hash = hash_password(req.admin_pass)
    c = container(request)
    who = principal(request, project_id)
    accept_rebuild(
        RebuildCommand(
            project_id=who.project_id,
            server_id=server_id,
            user_id=who.user_id,
            image_id=req.image_ref.rstrip("/").rsplit("/", 1)[-1],
            key_name=req.key_name if "key_name" in sent else KEEP,
            password_hash=password_hash,
            user_data=user_data,
            name=req.name,
            metadata=req.metadata,
        ),
        uow_factory=c.uow_factory,
        clock=c.clock,
    )
    c.runner.wake()
    body = _show(request, project_id, server_id, v)
    if req.admin_pass is not None:
        body["server"]["adminPass"] = req.admin_pass
    return JSONResponse(status_code=202, content=body, headers=echo_headers(v))
