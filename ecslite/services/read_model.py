"""The one server read model: a server with everything any view shows beside its record.

ShowServer, ListServersDetails, Nova show/detail, the console and the event stream's server
bodies all render from ``ServerRecord``, so they cannot disagree about a server's flavor,
image, disks or addresses. Reading a page of servers costs a fixed number of statements (the
servers, their volumes, ports and user data, the hosts) plus one per distinct image and flavor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecslite.domain import errors
from ecslite.domain.flavor import Flavor
from ecslite.domain.host import HostStatus
from ecslite.domain.job import Job
from ecslite.domain.network import Port
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import GuestNetwork
from ecslite.store.events import Rendered
from ecslite.store.uow import UnitOfWork, UowFactory

NetworkOf = Callable[[str], GuestNetwork | None]
ConsoleOf = Callable[[Server, int | None], str]


@dataclass(frozen=True)
class ServerRecord:
    """A server and what every view shows beside the record itself."""

    server: Server
    volumes: list[Volume] = field(default_factory=list)
    image: Image | None = None
    flavor: Flavor | None = None
    # Its fixed IPs in the project's VPC subnets.
    ports: list[Port] = field(default_factory=list)
    # How the driver's guest is reached (qemu: the user-mode NIC and its SSH forward).
    network: GuestNetwork | None = None
    user_data: str | None = None
    # Whether the server's host is up (Nova's host_status): UNKNOWN when it has no record.
    host_status: HostStatus = HostStatus.UNKNOWN


@dataclass(frozen=True)
class ServerFilter:
    """The list filters; None matches everything. ``name`` and ``ip`` match a substring,
    ``name_regex`` is a regular expression searched in the name (Nova's ``name``),
    ``changed_since`` an API time (servers updated at or after it), ``ip6`` an IPv6 address
    substring (servers have IPv4 fixed addresses only, so it matches none)."""

    status: str | None = None
    name: str | None = None
    flavor: str | None = None
    ip: str | None = None
    image: str | None = None
    name_regex: str | None = None
    changed_since: str | None = None
    ip6: str | None = None
    # Nova's tag filters (2.26+): all of ``tags``, any of ``tags_any``, not all of
    # ``not_tags``, none of ``not_tags_any``.
    tags: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    not_tags_any: tuple[str, ...] = ()


def records(
    uow: UnitOfWork, servers: list[Server], network_of: NetworkOf | None = None
) -> list[ServerRecord]:
    """Each of ``servers`` with its context, read in one unit of work."""
    if not servers:
        return []
    ids = [s.id for s in servers]
    volumes = uow.volumes.attached_to(ids)
    ports = uow.networks.ports_of(ids)
    user_data = uow.networks.user_data_of(ids)
    now = time.time()
    hosts = {h.id: h.status(now) for h in uow.hosts.all()}
    images: dict[str, Image | None] = {}
    flavors: dict[str, Flavor | None] = {}
    out = []
    for s in servers:
        if s.image_id not in images:
            images[s.image_id] = uow.catalog.image(s.image_id)
        if s.flavor_id not in flavors:
            flavors[s.flavor_id] = uow.flavors.get(s.flavor_id)
        out.append(
            ServerRecord(
                server=s,
                volumes=volumes[s.id],
                image=images[s.image_id],
                flavor=flavors[s.flavor_id],
                ports=ports[s.id],
                network=network_of(s.id) if network_of is not None else None,
                user_data=user_data.get(s.id),
                host_status=hosts.get(s.host_id, HostStatus.UNKNOWN),
            )
        )
    return out


def record(
    uow: UnitOfWork,
    server_id: str,
    project_id: str | None = None,
    network_of: NetworkOf | None = None,
) -> ServerRecord | None:
    """One server with its context in three statements (server with image, flavor, host and
    user data joined; volumes; ports): what a GET and every server event body read."""
    found = uow.servers.in_context(server_id, project_id)
    if found is None:
        return None
    ids = [server_id]
    host = found.host
    return ServerRecord(
        server=found.server,
        volumes=uow.volumes.attached_to(ids)[server_id],
        image=found.image,
        flavor=found.flavor,
        ports=uow.networks.ports_of(ids)[server_id],
        network=network_of(server_id) if network_of is not None else None,
        user_data=found.user_data,
        host_status=host.status(time.time()) if host is not None else HostStatus.UNKNOWN,
    )


class ServerReads:
    """Queries over a project's servers; every answer is a ``ServerRecord``."""

    def __init__(
        self, uow_factory: UowFactory, *, network_of: NetworkOf, console_of: ConsoleOf
    ) -> None:
        self._uow_factory = uow_factory
        self._network_of = network_of
        self._console_of = console_of

    def show(self, project_id: str, server_id: str) -> ServerRecord:
        """The project's server ``server_id``; Ecs.0114 when there is none."""
        with self._uow_factory(write=False) as uow:
            found = record(uow, server_id, project_id, self._network_of)
        if found is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return found

    def page(
        self, project_id: str, *, flt: ServerFilter, limit: int, offset: int
    ) -> tuple[list[ServerRecord], int]:
        """One page in the API's order (newest first) and the number of every match."""
        with self._uow_factory(write=False) as uow:
            servers, total = uow.servers.list(
                project_id,
                limit=limit,
                offset=offset,
                **_columns(flt),
            )
            return records(uow, servers, self._network_of), total

    def after(
        self, project_id: str, *, marker: str | None, limit: int, flt: ServerFilter
    ) -> list[ServerRecord] | None:
        """The ``limit`` servers after ``marker`` (newest first); None when the marker is not
        one of the matching servers (Nova's marker paging)."""
        chunk_size = 500
        with self._uow_factory(write=False) as uow:
            start = 0
            if marker is not None:
                found = None
                while found is None:
                    chunk, total = uow.servers.list(
                        project_id, limit=chunk_size, offset=start, **_columns(flt)
                    )
                    ids = [s.id for s in chunk]
                    if marker in ids:
                        found = start + ids.index(marker) + 1
                    elif start + chunk_size >= total:
                        return None
                    else:
                        start += chunk_size
                start = found
            servers, _ = uow.servers.list(project_id, limit=limit, offset=start, **_columns(flt))
            return records(uow, servers, self._network_of)

    def console_output(self, project_id: str, server_id: str, lines: int | None) -> str:
        """The last ``lines`` lines the guest printed (all recent output for None)."""
        with self._uow_factory(write=False) as uow:
            server = uow.servers.get(server_id, project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return self._console_of(server, lines)


def _columns(flt: ServerFilter) -> dict[str, Any]:
    return {
        "status": flt.status,
        "name": flt.name,
        "flavor": flt.flavor,
        "ip": flt.ip,
        "image": flt.image,
        "name_regex": flt.name_regex,
        "changed_since": flt.changed_since,
        "ip6": flt.ip6,
        "tags": flt.tags,
        "tags_any": flt.tags_any,
        "not_tags": flt.not_tags,
        "not_tags_any": flt.not_tags_any,
    }


def _dumps(body: object) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


ServerView = Callable[[ServerRecord], dict[str, Any]]
JobView = Callable[[Job], dict[str, Any]]


def server_event_renderer(
    view: ServerView, network_of: Callable[[], NetworkOf | None]
) -> Callable[[UnitOfWork, str], Rendered | None]:
    """The event body of a server: ``{"server": view(record)}``, what GET answers right then.

    ``network_of`` is asked at each render: the driver is built after the store that records
    events, so it is looked up late.
    """

    def render(uow: UnitOfWork, server_id: str) -> Rendered | None:
        found = record(uow, server_id, None, network_of())
        if found is None:
            return None
        server = found.server
        return Rendered(server.project_id, server.id, _dumps({"server": view(found)}))

    return render


def job_event_renderer(view: JobView) -> Callable[[UnitOfWork, str], Rendered | None]:
    """The event body of a job: what ``GET /v1/{project_id}/jobs/{job_id}`` answers."""

    def render(uow: UnitOfWork, job_id: str) -> Rendered | None:
        # The transaction's own copy when its writes were followed (the runner's, an accept's).
        job = uow.jobs.current(job_id)
        if job is not None and job.parent_id is not None:
            # A part of a job spanning hosts: its caller follows the whole job, read afresh
            # (its sub-jobs are its parts', which no copy of this transaction follows).
            job = uow.jobs.get(job.parent_id)
        if job is None:
            return None
        server_id = job.server_id
        if server_id is None:
            # A batch on one server is that server's job; a batch on several names none.
            ids = {s.server_id for s in job.sub_jobs}
            server_id = ids.pop() if len(ids) == 1 else None
        return Rendered(job.project_id, server_id, _dumps(view(job)), job_id=job.id)

    return render
