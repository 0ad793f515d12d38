"""The headers every OpenStack client expects on every OpenStack answer, set in one place.

Routes, error handlers and middleware refusals all answer OpenStack paths; setting the headers
per route missed some (key pairs, 401s from the credential guard, 404s). So this ASGI layer adds,
to any answer on an OpenStack path that lacks them:

- ``x-openstack-request-id: req-<uuid>`` (Nova, Keystone and Glance) — the request's own id,
  so it matches the access log line — and on compute paths ``x-compute-request-id``, Nova's
  older name for it;
- the compute microversion echo (``OpenStack-API-Version``, ``X-OpenStack-Nova-API-Version``,
  ``Vary``) on compute paths, unless the version asked for was malformed or out of range.

It also serves compute under ``/compute``: the catalog names ``/compute/v2.1/{project}`` so that
a client's version discovery, which strips the URL back to its unversioned root, reads compute's
own version list at ``/compute/`` and not the identity list at ``/``.
"""

from __future__ import annotations

import contextlib
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import echo_headers, parse

COMPUTE_PREFIX = "/compute"
_COMPUTE = re.compile(r"^/(v2\.1(/|$)|v2/[^/]+/os-keypairs(/|$))")
_OPENSTACK = re.compile(
    r"^/(v2\.1(/|$)|v2/[^/]+/os-keypairs(/|$)|v3(/|$)|image(/|$)|compute(/|$)|$)"
)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def openstack_request_id(request_id: str | None) -> str:
    """``req-<uuid>``, the log's request id when it is one (a fresh one otherwise)."""
    if request_id is not None and _HEX32.match(request_id):
        return f"req-{uuid.UUID(hex=request_id)}"
    return f"req-{uuid.uuid4()}"


def job_request_headers(job_id: str | None) -> dict[str, str]:
    """The request-id headers of a Nova request that started job ``job_id``: the job's own
    ``req-<uuid>``, which is the ``request_id`` of the server's instance action for it, so a
    client finds the action of its request (as Tempest does). The access log keeps the request's
    own id (``x-request-id``). No job: nothing, the layer below adds the request's id."""
    if not job_id:
        return {}
    rid = openstack_request_id(job_id)
    return {"x-openstack-request-id": rid, "x-compute-request-id": rid}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _requested_version(scope: Scope) -> str | None:
    header = _header(scope, b"openstack-api-version")
    if header is not None:
        for part in header.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute":
                return value.strip()
    return _header(scope, b"x-openstack-nova-api-version")


class OpenStackHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(COMPUTE_PREFIX + "/v2.1"):
            path = path[len(COMPUTE_PREFIX) :]
            raw = scope.get("raw_path")
            scope = {
                **scope,
                "path": path,
                "raw_path": raw[len(COMPUTE_PREFIX) :] if raw else path.encode(),
            }
        if not _OPENSTACK.match(path):
            await self.app(scope, receive, send)
            return
        extra = {
            "x-openstack-request-id": openstack_request_id(scope.get("state", {}).get("request_id"))
        }
        if _COMPUTE.match(path):
            # Nova's older name of the same id; Tempest matches it against instance actions.
            extra["x-compute-request-id"] = extra["x-openstack-request-id"]
            # A malformed or unsupported version is refused (400/406), not echoed.
            with contextlib.suppress(NovaFault):
                version = parse(_requested_version(scope))
                extra.update({k.lower(): v for k, v in echo_headers(version).items()})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in extra.items()
                    if k.encode("latin-1") not in present
                )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
