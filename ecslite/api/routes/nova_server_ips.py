"""Nova's ``/servers/{id}/ips`` and ``os-server-password`` under /v2.1/{project_id}.

``ips`` lists the server's addresses by network (the same networks and addresses as the
server's ``addresses``, without the ``OS-EXT-IPS`` attributes, as Nova shows them there);
``ips/{network}`` one network's, 404 when the server has no address on it.
``os-server-password`` is the ECS route's answer (routes/password.py) on Nova's path: only a
Windows guest posts a generated password, so there is never one to show or delete.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, echo_headers, microversion
from ecslite.api.nova.views import addresses_of, plain_addresses
from ecslite.api.routes.password import delete_server_password, server_password

router = APIRouter(include_in_schema=False)


def _addresses(request: Request, project_id: str, server_id: str) -> dict[str, Any]:
    who = principal(request, project_id)
    return plain_addresses(addresses_of(services(request).servers.show(who.project_id, server_id)))


@router.get("/v2.1/{project_id}/servers/{server_id}/ips")
def list_ips(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    return {"addresses": _addresses(request, project_id, server_id)}


@router.get("/v2.1/{project_id}/servers/{server_id}/ips/{network}")
def network_ips(project_id: str, server_id: str, network: str, request: Request) -> dict[str, Any]:
    addresses = _addresses(request, project_id, server_id)
    if network not in addresses:
        raise NovaFault(404, f"Server {server_id} has no address on network {network}.")
    return {network: addresses[network]}


@router.get("/v2.1/{project_id}/servers/{server_id}/os-server-password")
def show_password(project_id: str, server_id: str, request: Request) -> dict[str, Any]:
    return server_password(project_id, server_id, request)


@router.delete("/v2.1/{project_id}/servers/{server_id}/os-server-password")
def clear_password(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> Response:
    delete_server_password(project_id, server_id, request)
    return Response(status_code=204, headers=echo_headers(v))
