"""Flavors: the sizes a server is created with. A built-in catalogue, extendable by seed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavor:
    id: str
    vcpus: int
    ram_mb: int
    # ECS flavors carry no disk of their own ("0"): the system disk is a separate volume.
    disk_gb: int = 0

    @property
    def name(self) -> str:
        return self.id


def _f(fid: str, vcpus: int, ram_gb: int) -> Flavor:
    return Flavor(id=fid, vcpus=vcpus, ram_mb=ram_gb * 1024)


# The general-purpose s6 family (name: series.size.ram-to-vCPU ratio) and s3.small.1, the
# flavor every seeded server had before flavors existed.
BUILTIN_FLAVORS: tuple[Flavor, ...] = (
    _f("s3.small.1", 1, 1),
    _f("s6.small.1", 1, 1),
    _f("s6.medium.2", 1, 2),
    _f("s6.medium.4", 1, 4),
    _f("s6.large.2", 2, 4),
    _f("s6.large.4", 2, 8),
    _f("s6.xlarge.2", 4, 8),
    _f("s6.xlarge.4", 4, 16),
    _f("s6.2xlarge.2", 8, 16),
)
