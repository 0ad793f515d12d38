"""Project quotas: how many servers, vCPUs and MB of RAM a project may hold.

Defaults apply unless a seed gives the project its own values. A create that would go over any
of them is refused as a whole (Ecs.0001) before anything is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ecslite.domain import errors


@dataclass(frozen=True)
class Quotas:
    instances: int = 100
    cores: int = 400
    ram_mb: int = 1_638_400
    volumes: int = 500

    def with_overrides(self, overrides: dict[str, Any] | None) -> Quotas:
        known = {k: int(v) for k, v in (overrides or {}).items() if k in _FIELDS}
        return replace(self, **known)


_FIELDS = frozenset({"instances", "cores", "ram_mb", "volumes"})
QUOTA_KEYS = _FIELDS


@dataclass(frozen=True)
class Usage:
    instances: int = 0
    cores: int = 0
    ram_mb: int = 0
    volumes: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            instances=self.instances + other.instances,
            cores=self.cores + other.cores,
            ram_mb=self.ram_mb + other.ram_mb,
            volumes=self.volumes + other.volumes,
        )


def check_quota(quotas: Quotas, used: Usage, wanted: Usage) -> None:
    """Refuse ``wanted`` if it would take ``used`` over ``quotas`` in any resource."""
    after = used.plus(wanted)
    for what, limit, total in (
        ("instances", quotas.instances, after.instances),
        ("vCPUs", quotas.cores, after.cores),
        ("RAM (MB)", quotas.ram_mb, after.ram_mb),
    ):
        if total > limit:
            raise errors.EcsError(
                errors.ECS_QUOTA, f"The project's {what} quota is {limit}; this needs {total}."
            )
    if after.volumes > quotas.volumes:
        raise errors.EcsError(
            errors.VOLUME_QUOTA,
            f"The project's volume quota is {quotas.volumes}; this needs {after.volumes}.",
        )
