"""Placement and host checks inside an acceptance's transaction.

``place_servers`` runs the filters and weigher (domain/placement.py) against every host's
recorded allocations, with the host rows locked (PostgreSQL) so a concurrent create waits and
then sees these allocations: two creates cannot both take a host's last free capacity.
``split_by_host`` turns a job whose servers live on several hosts into one job (what the caller
sees) with one part per host, each bound to its host. ``check_hosts_up`` refuses a new
operation on a server whose host is down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ecslite.domain import errors
from ecslite.domain.clock import new_job_id
from ecslite.domain.host import Allocation, Capacity, HostStatus, host_unavailable
from ecslite.domain.job import PARTS_HOST, Job
from ecslite.domain.placement import NoValidHost, Request, Weigher, place
from ecslite.store.uow import UnitOfWork

# Request alias: the one zone clients sent before the region's zones existed ("any zone").
LEGACY_ZONE = "az1"


@dataclass(frozen=True)
class PlacementPolicy:
    """The cloud's placement settings (from the API process's settings)."""

    driver: str = "sim"
    weigher: Weigher = Weigher.SPREAD


def zones(uow: UnitOfWork) -> list[str]:
    return sorted({h.availability_zone for h in uow.hosts.all()})


def place_servers(
    uow: UnitOfWork,
    policy: PlacementPolicy,
    *,
    now: float,
    need: Capacity,
    count: int,
    zone: str | None,
) -> list[tuple[str, str]]:
    """(host id, its zone) for each of ``count`` servers; refuses with Ecs.0319 if none fits."""
    hosts = uow.hosts.all(lock=True)
    if zone == LEGACY_ZONE:
        zone = None
    if zone is not None and zone not in {h.availability_zone for h in hosts}:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"availability_zone {zone} does not exist; zones: {', '.join(zones(uow)) or 'none'}.",
        )
    try:
        chosen = place(
            hosts,
            uow.hosts.usage(),
            [Request(need, policy.driver, zone)] * count,
            now=now,
            weigher=policy.weigher,
        )
    except NoValidHost as exc:
        raise errors.EcsError(errors.NO_VALID_HOST, f"No valid host: {exc.reason}.") from exc
    by_id = {h.id: h for h in hosts}
    return [(hid, by_id[hid].availability_zone) for hid in chosen]


def allocate(uow: UnitOfWork, placed: Sequence[tuple[str, str]], need: Capacity) -> None:
    """Record what each (server id, host id) holds."""
    uow.hosts.allocate(
        [Allocation(sid, hid, need.vcpus, need.ram_mb, need.disk_gb) for sid, hid in placed]
    )


def check_hosts_up(uow: UnitOfWork, *, now: float, host_ids: set[str]) -> None:
    """Refuse (Ecs.0100) a new operation whose server's host is recorded and down."""
    for hid in sorted(host_ids):
        host = uow.hosts.get(hid)
        if host is not None and not host.up(now):
            raise errors.EcsError(errors.BAD_SERVER_STATE, host_unavailable(hid, HostStatus.DOWN))


# part_params(params of the whole job, server ids of one part) -> that part's params
PartParams = Callable[[Mapping[str, Any], frozenset[str]], Mapping[str, Any]]


def split_by_host(uow: UnitOfWork, job: Job, part_params: PartParams | None = None) -> list[Job]:
    """The jobs to insert for ``job``: itself bound to its servers' one host, or (servers on
    several hosts) itself as the parent plus one part per host, each owning its servers.

    A job with no server sub-jobs keeps the host it was given (a volume job's).
    """
    sids = [s.server_id for s in job.sub_jobs if s.server_id] or (
        [job.server_id] if job.server_id else []
    )
    if not sids:
        return [job]
    hosts = uow.servers.hosts_of(sids)
    distinct = sorted({hosts[s] for s in sids if s in hosts})
    if len(distinct) <= 1:
        return [replace(job, host_id=distinct[0] if distinct else job.host_id)]
    parent = replace(job, host_id=PARTS_HOST, sub_jobs=(), server_id=None)
    out = [parent]
    for hid in distinct:
        part_id = new_job_id()
        subs = tuple(
            replace(s, job_id=part_id) for s in job.sub_jobs if hosts.get(s.server_id or "") == hid
        )
        mine = frozenset(s.server_id for s in subs if s.server_id)
        params = dict(part_params(job.params, mine)) if part_params else job.params
        out.append(
            replace(
                job,
                id=part_id,
                host_id=hid,
                parent_id=job.id,
                sub_jobs=subs,
                params=params,
                server_id=next(iter(mine)) if len(mine) == 1 else None,
            )
        )
        # The part owns its servers: its runner's ownership checks name the part.
        uow.servers.reassign(sorted(mine), from_job=job.id, to_job=part_id)
    return out
