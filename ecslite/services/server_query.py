"""Read the servers of a project with everything ShowServer shows beside the record itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ecslite.domain import errors
from ecslite.domain.flavor import Flavor
from ecslite.domain.network import Port
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import Driver, GuestNetwork
from ecslite.store.uow import UnitOfWork, UowFactory


@dataclass(frozen=True)
class ServerContext:
    """What ShowServer shows beside the server record itself."""

    volumes: list[Volume]
    image: Image | None
    flavor: Flavor | None = None
    ports: list[Port] = field(default_factory=list)
    network: GuestNetwork | None = None
    user_data: str | None = None


@dataclass(frozen=True)
class ServerFilter:
    status: str | None = None
    name: str | None = None
    flavor: str | None = None
    ip: str | None = None


NetworkOf = Callable[[str], GuestNetwork | None]


def contexts(
    uow: UnitOfWork, servers: list[Server], network_of: NetworkOf | None = None
) -> list[tuple[Server, ServerContext]]:
    """Each server with its context; ``network_of`` is the driver's ``guest_network``."""
    ids = [s.id for s in servers]
    volumes = uow.volumes.attached_to(ids)
    ports = uow.networks.ports_of(ids)
    user_data = uow.networks.user_data_of(ids)
    images: dict[str, Image | None] = {}
    flavors: dict[str, Flavor | None] = {}
    out = []
    for s in servers:
        if s.image_id not in images:
            images[s.image_id] = uow.catalog.image(s.image_id)
        if s.flavor_id not in flavors:
            flavors[s.flavor_id] = uow.flavors.get(s.flavor_id)
        ctx = ServerContext(
            volumes=volumes[s.id],
            image=images[s.image_id],
            flavor=flavors[s.flavor_id],
            ports=ports[s.id],
            network=network_of(s.id) if network_of is not None else None,
            user_data=user_data.get(s.id),
        )
        out.append((s, ctx))
    return out


def show_server(
    uow_factory: UowFactory, driver: Driver, project_id: str, server_id: str
) -> tuple[Server, ServerContext]:
    with uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return contexts(uow, [server], driver.guest_network)[0]


def list_servers(
    uow_factory: UowFactory,
    driver: Driver,
    project_id: str,
    *,
    flt: ServerFilter,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Server, ServerContext]], int]:
    with uow_factory(write=False) as uow:
        servers, total = uow.servers.list(
            project_id,
            limit=limit,
            offset=offset,
            status=flt.status,
            name=flt.name,
            flavor=flt.flavor,
            ip=flt.ip,
        )
        return contexts(uow, servers, driver.guest_network), total
