"""Hosts and allocations: registration, heartbeats, enable/disable, and the usage placement
sums under the hosts' row locks (so two creates cannot both take a host's last free RAM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ecslite.domain.host import Allocation, Capacity, Host, Ratios
from ecslite.domain.placement import Usage
from ecslite.store import tables as t


def _host(row: Any) -> Host:
    return Host(
        id=row.id,
        driver=row.driver,
        availability_zone=row.availability_zone,
        capacity=Capacity(row.vcpus, row.ram_mb, row.disk_gb),
        ratios=Ratios(row.cpu_ratio, row.ram_ratio, row.disk_ratio),
        address=row.address,
        enabled=bool(row.enabled),
        heartbeat=row.heartbeat,
        disabled_reason=row.disabled_reason,
        down_after=row.down_after,
    )


class HostRepo:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, host_id: str) -> Host | None:
        row = self._c.execute(select(t.hosts).where(t.hosts.c.id == host_id)).first()
        return _host(row) if row is not None else None

    def all(self, *, lock: bool = False) -> list[Host]:
        q = select(t.hosts).order_by(t.hosts.c.id)
        if lock and self._c.dialect.name == "postgresql":
            # Placement holds every host row until its allocations commit: concurrent creates
            # place one after the other, each seeing the other's allocations.
            q = q.with_for_update()
        return [_host(r) for r in self._c.execute(q)]

    def register(self, host: Host) -> None:
        """Insert the host, or update what its runner reports (keeping enabled/disabled)."""
        values = {
            "driver": host.driver,
            "address": host.address,
            "availability_zone": host.availability_zone,
            "vcpus": host.capacity.vcpus,
            "ram_mb": host.capacity.ram_mb,
            "disk_gb": host.capacity.disk_gb,
            "cpu_ratio": host.ratios.cpu,
            "ram_ratio": host.ratios.ram,
            "disk_ratio": host.ratios.disk,
            "heartbeat": host.heartbeat,
            "down_after": host.down_after,
        }
        res = self._c.execute(update(t.hosts).where(t.hosts.c.id == host.id).values(**values))
        if res.rowcount == 0:
            self._c.execute(insert(t.hosts).values(id=host.id, enabled=host.enabled, **values))

    def heartbeat(self, host_id: str, now: float) -> None:
        self._c.execute(update(t.hosts).where(t.hosts.c.id == host_id).values(heartbeat=now))

    def set_enabled(self, host_id: str, enabled: bool, reason: str | None = None) -> bool:
        res = self._c.execute(
            update(t.hosts)
            .where(t.hosts.c.id == host_id)
            .values(enabled=enabled, disabled_reason=None if enabled else reason)
        )
        return bool(res.rowcount == 1)

    # -- allocations -------------------------------------------------------------------------

    def allocate(self, allocations: Sequence[Allocation]) -> None:
        if allocations:
            self._c.execute(
                insert(t.allocations),
                [
                    {
                        "server_id": a.server_id,
                        "host_id": a.host_id,
                        "vcpus": a.vcpus,
                        "ram_mb": a.ram_mb,
                        "disk_gb": a.disk_gb,
                    }
                    for a in allocations
                ],
            )

    def free(self, server_id: str) -> None:
        self._c.execute(delete(t.allocations).where(t.allocations.c.server_id == server_id))

    def usage(self) -> dict[str, Usage]:
        a = t.allocations.c
        rows = self._c.execute(
            select(
                a.host_id,
                func.sum(a.vcpus),
                func.sum(a.ram_mb),
                func.sum(a.disk_gb),
                func.count(),
            ).group_by(a.host_id)
        )
        return {r[0]: Usage(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}

    def running_jobs(self) -> dict[str, int]:
        """Unfinished jobs per host (a job spanning hosts counts on each of its parts' hosts)."""
        j = t.jobs.c
        rows = self._c.execute(
            select(j.host_id, func.count())
            .where(j.status.in_(["INIT", "RUNNING"]), j.host_id.is_not(None))
            .group_by(j.host_id)
        )
        return {r[0]: int(r[1]) for r in rows}
