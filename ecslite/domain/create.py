"""The rules of a create-servers request that need no database.

Names: 1-64 characters of letters, digits, ``.``, ``_`` and ``-`` (Ecs.0914 too long, Ecs.0915
other characters); with ``count`` > 1 each server gets a ``-0001``-style suffix, which must fit
too (Nova's door names as Nova does: 1-255 characters, ``-1``, ``-2`` suffixes). Disk types are
the EVS types the API documents (Ecs.0043). Sizes in GB: system disk 1-1024 and at least the
image's ``min_disk``, data disks 10-32768, at most 23 data disks; one request creates 1-100
servers (all Ecs.0005).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.limits import MAX_COUNT
from ecslite.domain.limits import NOVA_SERVER_NAME_MAX as NOVA_NAME_MAX
from ecslite.domain.limits import SERVER_NAME_MAX as NAME_MAX

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
VOLUME_TYPES = frozenset({"SATA", "SAS", "SSD", "GPSSD", "ESSD", "GPSSD2", "ESSD2"})
SYSTEM_DISK_MAX_GB = 1024
DATA_DISK_MIN_GB, DATA_DISK_MAX_GB = 10, 32768
MAX_DATA_DISKS = 23
DATA_DEVICES = tuple(f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwx")


@dataclass(frozen=True)
class DiskRequest:
    volume_type: str
    size_gb: int | None  # None: for a system disk, the image's minimum; a data disk needs one


@dataclass(frozen=True)
class Disk:
    volume_type: str
    size_gb: int


def nova_server_names(name: str, count: int) -> list[str]:
    """Nova's names: any 1-255 characters; with several servers ``name-1``, ``name-2``, ..."""
    if not 1 <= count <= MAX_COUNT:
        raise errors.EcsError(errors.INVALID_PARAMETER, f"max_count must be 1-{MAX_COUNT}.")
    names = [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]
    if not name.strip() or len(names[-1]) > NOVA_NAME_MAX:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"name must have 1-{NOVA_NAME_MAX} characters (with the -N suffix of a multi-create)"
            " and not be only spaces.",
        )
    return names


def server_names(name: str, count: int) -> list[str]:
    """Return the name of each server the request creates, or refuse the request."""
    if not 1 <= count <= MAX_COUNT:
        raise errors.EcsError(errors.INVALID_PARAMETER, f"count must be 1-{MAX_COUNT}.")
    names = [name] if count == 1 else [f"{name}-{i:04d}" for i in range(1, count + 1)]
    if not name:
        raise errors.EcsError(errors.INVALID_PARAMETER, "name must not be empty.")
    if len(names[-1]) > NAME_MAX:
        raise errors.EcsError(
            errors.NAME_TOO_LONG,
            f"A name may have {NAME_MAX} characters"
            + (", including the -0001 suffix added when count > 1." if count > 1 else "."),
        )
    if not _NAME_RE.match(name):
        raise errors.EcsError(
            errors.NAME_INVALID, "Use only letters, digits, periods, underscores and hyphens."
        )
    return names


def check_volume_type(volume_type: str, what: str) -> None:
    if volume_type not in VOLUME_TYPES:
        raise errors.EcsError(
            errors.BAD_VOLUME_TYPE,
            f"{what}.volumetype must be one of {', '.join(sorted(VOLUME_TYPES))}.",
        )


def system_disk(req: DiskRequest | None, *, min_disk_gb: int) -> Disk:
    """Return the system disk to create: as requested, by default SSD of the image's minimum."""
    volume_type = req.volume_type if req else "SSD"
    check_volume_type(volume_type, "root_volume")
    size = req.size_gb if req and req.size_gb is not None else max(min_disk_gb, 1)
    if not 1 <= size <= SYSTEM_DISK_MAX_GB:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"root_volume.size must be 1-{SYSTEM_DISK_MAX_GB} GB."
        )
    if size < min_disk_gb:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"root_volume.size {size} GB is smaller than the image's minimum disk "
            f"({min_disk_gb} GB).",
        )
    return Disk(volume_type=volume_type, size_gb=size)


def data_disks(reqs: list[DiskRequest]) -> list[Disk]:
    if len(reqs) > MAX_DATA_DISKS:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"A server may have at most {MAX_DATA_DISKS} data disks."
        )
    out = []
    for i, d in enumerate(reqs):
        check_volume_type(d.volume_type, f"data_volumes[{i}]")
        if d.size_gb is None or not DATA_DISK_MIN_GB <= d.size_gb <= DATA_DISK_MAX_GB:
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                f"data_volumes[{i}].size must be {DATA_DISK_MIN_GB}-{DATA_DISK_MAX_GB} GB.",
            )
        out.append(Disk(volume_type=d.volume_type, size_gb=d.size_gb))
    return out


def check_login(*, adminpass_given: bool, key_name: str | None) -> None:
    if adminpass_given and key_name is not None:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "adminPass and key_name cannot be specified together."
        )
