"""Hypervisor hosts: what a host offers (capacity, zone, driver), whether it takes new work
(enabled, heartbeat fresh) and what is already placed on it.

A host is a record every runner of that host keeps alive with a heartbeat; "up" is decided by
the reader against its own clock, so a host whose processes were killed turns "down" without
anyone writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The host the single-process service runs on and every runner started without --host-id
# belongs to; seeded and demo servers are placed here.
DEFAULT_HOST = "local"
# A host is down once its heartbeat is older than this many seconds (configurable).
DEFAULT_DOWN_AFTER = 30.0


def zone_name(region: str, index: int = 1) -> str:
    """The region's naming of its availability zones: ``eu-de`` → ``eu-de-01``, ``eu-de-02``."""
    return f"{region}-{index:02d}"


class HostStatus(StrEnum):
    """Nova's ``host_status`` (microversion 2.16)."""

    UP = "UP"
    DOWN = "DOWN"
    MAINTENANCE = "MAINTENANCE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Capacity:
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Ratios:
    """Allocation ratios, as a scheduler applies them: usable = capacity * ratio."""

    cpu: float = 16.0
    ram: float = 1.5
    disk: float = 10.0


@dataclass(frozen=True)
class Host:
    id: str
    driver: str
    availability_zone: str
    capacity: Capacity
    ratios: Ratios
    address: str
    enabled: bool
    heartbeat: float | None  # epoch seconds of the last heartbeat, None: never
    disabled_reason: str | None = None
    down_after: float = DEFAULT_DOWN_AFTER

    def up(self, now: float) -> bool:
        return self.heartbeat is not None and now - self.heartbeat <= self.down_after

    def status(self, now: float) -> HostStatus:
        if not self.up(now):
            return HostStatus.DOWN
        return HostStatus.UP if self.enabled else HostStatus.MAINTENANCE

    @property
    def usable(self) -> Capacity:
        return Capacity(
            vcpus=int(self.capacity.vcpus * self.ratios.cpu),
            ram_mb=int(self.capacity.ram_mb * self.ratios.ram),
            disk_gb=int(self.capacity.disk_gb * self.ratios.disk),
        )


@dataclass(frozen=True)
class Allocation:
    """What one server holds on its host."""

    server_id: str
    host_id: str
    vcpus: int
    ram_mb: int
    disk_gb: int


def host_unavailable(host_id: str, status: HostStatus) -> str:
    """The refusal every door shows for a new operation on a server whose host is not up."""
    state = "down" if status is HostStatus.DOWN else "unknown"
    return (
        f"The server's host {host_id} is {state}: no new operation can run on it until the "
        "host is back (or an administrator fails its stuck jobs)."
    )
