"""Nova's servers under /v2.1/{project_id}: list, detail, show and the server actions.

Listing pages as Nova does (``limit`` and ``marker``, newest first, a ``servers_links`` next
link when a page is full) with Nova's filters (tag filters from 2.26). Actions: ``os-stop``,
``os-start``, ``os-getConsoleOutput`` and ``rebuild`` (a reinstall job, see services/nova.py
and docs/api.md), ``reboot`` (the reboot job of ``batch_reboot_servers``, SOFT or HARD),
``lock``/``unlock``, ``addSecurityGroup``/``removeSecurityGroup`` (services/security_groups.py).
Errors use Nova's envelope (api/nova/faults.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.nova.query import non_negative, refuse_unknown
from ecslite.api.nova.views import rebuild_detail, server_detail, server_summary
from ecslite.api.openapi import json_body
from ecslite.api.openstack_headers import job_request_headers
from ecslite.api.routes.console import output_lines
from ecslite.api.routes.remote_console import change_password
from ecslite.domain import errors
from ecslite.domain.reinstall import decode_user_data
from ecslite.services.cancel import DeleteServerAnyState
from ecslite.services.lifecycle import RebootServers
from ecslite.services.nova import KEEP, LockServer, RebuildServer
from ecslite.services.power import PowerServers
from ecslite.services.read_model import ServerFilter
from ecslite.services.security_groups import SetSecurityGroup

router = APIRouter(include_in_schema=False)

MAX_LIMIT = 1000


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/v2.1"


# Query parameters the list routes act on; any other is refused (400), never ignored: a filter
# dropped silently would return servers it was meant to exclude.
_FILTERS = frozenset(
    {"limit", "marker", "status", "name", "image", "flavor", "ip", "ip6", "changes-since", "host"}
)
# Nova's tag filters, from 2.26 (below, refused as any parameter not acted on).
_TAG_FILTERS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})
# Sent by clients with values that ask for nothing ecslite lacks: accepted at those values.
_NEUTRAL = {
    "deleted": frozenset({"false", "0"}),
    "all_tenants": frozenset({"false", "0"}),
    "all_projects": frozenset({"false", "0"}),
    "sort_key": frozenset({"created_at"}),
    "sort_dir": frozenset({"desc"}),
}


@dataclass(frozen=True)
class _ListQuery:
    limit: int | None
    marker: str | None
    flt: ServerFilter


def _name_regex(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        re.compile(raw)
    except re.error as exc:
        raise NovaFault(
            400, f"Invalid filter: name is not a valid regular expression ({exc})."
        ) from None
    return raw


def _changes_since(raw: str | None) -> str | None:
    """ISO 8601 as Nova takes it, to the stored form (UTC, seconds); 400 when unreadable."""
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise NovaFault(400, f"Invalid changes-since value {raw!r}: an ISO 8601 time.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tags(params: QueryParams, key: str) -> tuple[str, ...]:
    """A tag filter's comma-separated tags (a repeated parameter is refused before this)."""
    return tuple(tag for raw in params.getlist(key) for tag in raw.split(",") if tag)


def _list_query(request: Request, v: Microversion) -> _ListQuery:
    params = request.query_params
    if not v.at_least(26):
        for key in _TAG_FILTERS.intersection(params):
            raise NovaFault(400, f"Invalid filter: {key} needs microversion 2.26 or later.")
    refuse_unknown(params, _FILTERS | _TAG_FILTERS, _NEUTRAL)
    if "host" in params:
        # An administrator's filter in Nova; no caller of this API is one.
        raise NovaFault(403, "Policy doesn't allow the host filter to be used by this caller.")
    limit = non_negative(params, "limit")
    image = params.get("image")
    status = params.get("status")
    return _ListQuery(
        limit=limit,
        marker=params.get("marker"),
        flt=ServerFilter(
            status=status.upper() if status else None,
            name_regex=_name_regex(params.get("name")),
            changed_since=_changes_since(params.get("changes-since")),
            ip6=params.get("ip6") or None,
            # An image given as its link (Nova accepts both) names the image by its last part.
            image=image.rstrip("/").rsplit("/", 1)[-1] if image else None,
            flavor=params.get("flavor") or None,
            ip=params.get("ip") or None,
            tags=_tags(params, "tags"),
            tags_any=_tags(params, "tags-any"),
            not_tags=_tags(params, "not-tags"),
            not_tags_any=_tags(params, "not-tags-any"),
        ),
    )


def _list(request: Request, project_id: str, v: Microversion, *, detail: bool) -> dict[str, Any]:
    who = principal(request, project_id)
    q = _list_query(request, v)
    size = min(q.limit if q.limit is not None else MAX_LIMIT, MAX_LIMIT)
    base = _base(request)
    records = services(request).servers.after(
        who.project_id, marker=q.marker, limit=size, flt=q.flt
    )
    if records is None:
        raise NovaFault(400, f"marker [{q.marker}] not found")
    items = [
        server_detail(r, base, v) if detail else server_summary(r.server, base) for r in records
    ]
    out: dict[str, Any] = {"servers": items}
    if records and len(records) == size:
        query = {k: val for k, val in request.query_params.items() if k not in ("limit", "marker")}
        query |= {"limit": str(size), "marker": records[-1].server.id}
        path = "servers/detail" if detail else "servers"
        out["servers_links"] = [
            {"rel": "next", "href": f"{base}/{project_id}/{path}?{urlencode(query)}"}
        ]
    return out


@router.get("/v2.1/{project_id}/servers")
def list_servers(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _list(request, project_id, v, detail=False)


@router.get("/v2.1/{project_id}/servers/detail")
def list_servers_detail(
    project_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    return _list(request, project_id, v, detail=True)


def _show(request: Request, project_id: str, server_id: str, v: Microversion) -> dict[str, Any]:
    who = principal(request, project_id)
    try:
        record = services(request).servers.show(who.project_id, server_id)
    except errors.EcsError as exc:
        if exc.spec is not errors.SERVER_NOT_FOUND:
            raise
        raise NovaFault(404, f"Instance {server_id} could not be found.") from None
    return {"server": server_detail(record, _base(request), v)}


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


class ConsoleOutput(_Strict):
    length: int | str | None = None


class RebootOption(_Strict):
    type: Literal["SOFT", "HARD"]


class SecurityGroupOption(_Strict):
    name: StrictStr = Field(min_length=1, max_length=255)


class _NoOption(_Strict):
    """``os-stop`` and ``os-start`` take nothing: ``null`` or ``{}``."""


class NovaServerAction(BaseModel):
    """The action body's shape, one member per action (exactly one is sent). The route reads
    the body as a mapping and validates the one member with its own model; this union is what a
    client (or a property test) is told the body may hold."""

    model_config = ConfigDict(populate_by_name=True)

    os_stop: _NoOption | None = Field(default=None, alias="os-stop")
    os_start: _NoOption | None = Field(default=None, alias="os-start")
    reboot: RebootOption | None = None
    console_output: ConsoleOutput | None = Field(default=None, alias="os-getConsoleOutput")
    rebuild: Rebuild | None = None
    lock: _NoOption | None = None
    unlock: _NoOption | None = None
    add_security_group: SecurityGroupOption | None = Field(default=None, alias="addSecurityGroup")
    remove_security_group: SecurityGroupOption | None = Field(
        default=None, alias="removeSecurityGroup"
    )


@dataclass(frozen=True)
class _Call:
    request: Request
    project_id: str
    server_id: str
    v: Microversion


def _power(stop: bool) -> Callable[[_Call, Any], Response]:
    def act(call: _Call, option: Any) -> Response:
        if option is not None:
            _NoOption.model_validate(option)
        who = principal(call.request, call.project_id)
        job = services(call.request).ops.submit(
            PowerServers(who.project_id, (call.server_id,), stop=stop, nova=True)
        )
        return Response(
            status_code=202, headers={**echo_headers(call.v), **job_request_headers(job.job_id)}
        )

    return act


def _reboot(call: _Call, option: Any) -> Response:
    opt = RebootOption.model_validate(option)
    who = principal(call.request, call.project_id)
    job = services(call.request).ops.submit(
        RebootServers(who.project_id, (call.server_id,), hard=opt.type == "HARD", nova=True)
    )
    return Response(
        status_code=202, headers={**echo_headers(call.v), **job_request_headers(job.job_id)}
    )


def _console_output(call: _Call, option: Any) -> dict[str, Any]:
    opt = ConsoleOutput.model_validate(option if option is not None else {})
    who = principal(call.request, call.project_id)
    lines = output_lines(opt.length)
    return {
        "output": services(call.request).servers.console_output(
            who.project_id, call.server_id, lines
        )
    }


def _rebuild(call: _Call, option: Any) -> Response:
    req = Rebuild.model_validate(option)
    sent = req.model_fields_set
    if "key_name" in sent and not call.v.at_least(54):
        raise NovaFault(400, "key_name in rebuild needs microversion 2.54 or later.")
    if "user_data" in sent and not call.v.at_least(57):
        raise NovaFault(400, "user_data in rebuild needs microversion 2.57 or later.")
    user_data: bytes | str | None = KEEP
    if "user_data" in sent:
        user_data = decode_user_data(req.user_data) if req.user_data is not None else None
    who = principal(call.request, call.project_id)
    image_id = req.image_ref.rstrip("/").rsplit("/", 1)[-1]
    job = services(call.request).ops.submit(
        RebuildServer(
            project_id=who.project_id,
            server_id=call.server_id,
            user_id=who.user_id,
            image_id=image_id,
            key_name=req.key_name if "key_name" in sent else KEEP,
            admin_pass=req.admin_pass,
            user_data=user_data,
            name=req.name,
            metadata=req.metadata,
        )
    )
    record = services(call.request).servers.show(who.project_id, call.server_id)
    detail = server_detail(record, _base(call.request), call.v)
    body = {"server": rebuild_detail(detail)}
    # From 2.54 Nova's answer shows the key the rebuild gives the server, from 2.57 its user
    # data (base64 or null): what the request set, else what the server keeps.
    if call.v.at_least(54):
        body["server"]["key_name"] = req.key_name if "key_name" in sent else detail["key_name"]
    if call.v.at_least(57):
        body["server"]["user_data"] = req.user_data if "user_data" in sent else record.user_data
    # Nova's answer names the image being rebuilt to (the record switches when the job does).
    image = body["server"]["image"]
    image["id"] = image_id
    image["links"] = [
        {**link, "href": link["href"].rsplit("/", 1)[0] + "/" + image_id} for link in image["links"]
    ]
    # A given password is applied either way; whether the answer echoes it is the setting's.
    shown = services(call.request).nova_passwords.shown(req.admin_pass)
    if shown is not None:
        body["server"]["adminPass"] = shown
    return JSONResponse(
        status_code=202,
        content=body,
        headers={**echo_headers(call.v), **job_request_headers(job.job_id)},
    )


def _change_password(call: _Call, option: Any) -> Response:
    change_password(call.request, call.project_id, call.server_id, option)
    return Response(status_code=202, headers=echo_headers(call.v))


def _force_delete(call: _Call, option: Any) -> Response:
    """Nova deletes at once whatever the state (deferred delete is off here, so there is no
    soft-deleted server to hurry): the same command as ``DELETE /servers/{id}``."""
    if option is not None:
        _NoOption.model_validate(option)
    who = principal(call.request, call.project_id)
    job = services(call.request).ops.submit(DeleteServerAnyState(who.project_id, call.server_id))
    return Response(
        status_code=202,
        headers={**echo_headers(call.v), **job_request_headers(job.job_id if job else None)},
    )


def _restore(call: _Call, option: Any) -> Response:
    """No server is ever soft-deleted here (deferred delete is off): an existing server is in
    no state to restore (409, as Nova answers a server that is not SOFT_DELETED)."""
    if option is not None:
        _NoOption.model_validate(option)
    who = principal(call.request, call.project_id)
    server = services(call.request).servers.show(who.project_id, call.server_id).server
    raise NovaFault(
        409,
        f"Cannot 'restore' instance {server.id} while it is in vm_state {server.vm_state.value}: "
        "only a soft-deleted server can be restored, and deferred delete is off.",
    )


def _lock(locked: bool) -> Callable[[_Call, Any], Response]:
    def act(call: _Call, option: Any) -> Response:
        if option is not None:
            _NoOption.model_validate(option)  # locked_reason is 2.73, past this API's 2.60
        who = principal(call.request, call.project_id)
        services(call.request).ops.submit(LockServer(who.project_id, call.server_id, locked))
        return Response(status_code=202, headers=echo_headers(call.v))

    return act


def _security_group(member: bool) -> Callable[[_Call, Any], Response]:
    def act(call: _Call, option: Any) -> Response:
        opt = SecurityGroupOption.model_validate(option)
        who = principal(call.request, call.project_id)
        services(call.request).ops.submit(
            SetSecurityGroup(who.project_id, call.server_id, opt.name, member)
        )
        return Response(status_code=202, headers=echo_headers(call.v))

    return act


# Nova's server actions by name (the body's one key); each validates its own option.
_ACTIONS: dict[str, Callable[[_Call, Any], Any]] = {
    "os-stop": _power(stop=True),
    "os-start": _power(stop=False),
    "reboot": _reboot,
    "os-getConsoleOutput": _console_output,
    "rebuild": _rebuild,
    "changePassword": _change_password,
    "lock": _lock(locked=True),
    "unlock": _lock(locked=False),
    "forceDelete": _force_delete,
    "restore": _restore,
    "addSecurityGroup": _security_group(member=True),
    "removeSecurityGroup": _security_group(member=False),
}
_OPTIONAL = frozenset(
    {"os-stop", "os-start", "os-getConsoleOutput", "lock", "unlock", "forceDelete", "restore"}
)


@router.post(
    "/v2.1/{project_id}/servers/{server_id}/action", openapi_extra=json_body(NovaServerAction)
)
async def server_action(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Any:
    body = (await parse_body(request, _ActionBody)).root
    if len(body) != 1 or next(iter(body)) not in _ACTIONS:
        raise NovaFault(
            400,
            "Give exactly one action: os-stop, os-start, reboot, os-getConsoleOutput, rebuild, "
            "changePassword, lock, unlock, forceDelete, restore, addSecurityGroup or "
            "removeSecurityGroup.",
        )
    name, option = next(iter(body.items()))
    if option is None and name not in _OPTIONAL:
        raise NovaFault(400, f"Invalid input for field/attribute {name}: None is not an object.")
    if option is not None and not isinstance(option, dict):
        raise NovaFault(400, f"Invalid input for field/attribute {name}: not an object.")
    call = _Call(request, project_id, server_id, v)
    try:
        return await run_in_threadpool(_ACTIONS[name], call, option)
    except ValidationError as exc:
        # Worded as every other body refusal (api/body.py), in Nova's envelope on this path.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (name, *first["loc"]))
        raise errors.EcsError(errors.INVALID_PARAMETER, f"{where}: {first['msg']}.") from None


class _ActionBody(RootModel[dict[str, Any]]):
    pass
