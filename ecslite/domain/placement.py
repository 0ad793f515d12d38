"""Placement, the pure part: filter the hosts that can take a server, weigh the rest.

Filters (every one must pass): enabled, up, the cloud's driver, the requested availability
zone, and enough free vCPUs, RAM and disk after allocation ratios. The weigher spreads (most
free RAM first, then fewest servers) or packs (least free RAM first). Each server of a
``count=N`` create is placed in turn against the usage the earlier ones added, so N servers
spread over the hosts the way N single creates would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ecslite.domain.host import Capacity, Host


class Weigher(StrEnum):
    SPREAD = "spread"
    PACK = "pack"


@dataclass(frozen=True)
class Usage:
    vcpus: int = 0
    ram_mb: int = 0
    disk_gb: int = 0
    servers: int = 0

    def plus(self, need: Capacity) -> Usage:
        return Usage(
            self.vcpus + need.vcpus,
            self.ram_mb + need.ram_mb,
            self.disk_gb + need.disk_gb,
            self.servers + 1,
        )


@dataclass(frozen=True)
class Request:
    need: Capacity
    driver: str
    availability_zone: str | None  # None: any zone


class NoValidHost(Exception):
    """No host passes the filters; ``reason`` says which filter left none."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fits(host: Host, used: Usage, need: Capacity) -> bool:
    usable = host.usable
    return (
        used.vcpus + need.vcpus <= usable.vcpus
        and used.ram_mb + need.ram_mb <= usable.ram_mb
        and used.disk_gb + need.disk_gb <= usable.disk_gb
    )


def candidates(
    hosts: Sequence[Host], usage: Mapping[str, Usage], req: Request, *, now: float
) -> list[Host]:
    """The hosts passing every filter; NoValidHost names the filter that removed the last."""
    left = list(hosts)
    steps = (
        ("no host is enabled", lambda h: h.enabled),
        ("no enabled host is up", lambda h: h.up(now)),
        (f"no host runs the {req.driver} driver", lambda h: h.driver == req.driver),
        (
            f"no host is in availability zone {req.availability_zone}",
            lambda h: req.availability_zone is None or h.availability_zone == req.availability_zone,
        ),
        (
            f"no host has {req.need.vcpus} vCPUs, {req.need.ram_mb} MB RAM and "
            f"{req.need.disk_gb} GB disk free",
            lambda h: _fits(h, usage.get(h.id, Usage()), req.need),
        ),
    )
    for reason, keep in steps:
        left = [h for h in left if keep(h)]
        if not left:
            raise NoValidHost(reason)
    return left


def place(
    hosts: Sequence[Host],
    usage: Mapping[str, Usage],
    requests: Sequence[Request],
    *,
    now: float,
    weigher: Weigher = Weigher.SPREAD,
) -> list[str]:
    """One host id per request, in order; raises NoValidHost if any request finds none."""
    used = dict(usage)
    chosen: list[str] = []
    for req in requests:
        ok = candidates(hosts, used, req, now=now)

        def key(h: Host) -> tuple[float, int, str]:
            u = used.get(h.id, Usage())
            free = h.usable.ram_mb - u.ram_mb
            if weigher is Weigher.PACK:
                return (free, -u.servers, h.id)
            return (-free, u.servers, h.id)

        best = min(ok, key=key)
        used[best.id] = used.get(best.id, Usage()).plus(req.need)
        chosen.append(best.id)
    return chosen
