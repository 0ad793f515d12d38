"""A volume's status (the EVS disk statuses ecslite uses) and which of them a delete accepts.

A volume is ``in-use`` while attached to a server and ``available`` when detached. A delete
claims it ``deleting`` in the transaction that accepts the job; if the driver could not remove
the disk it becomes ``error_deleting``, from which a new delete is accepted (ecslite has no
customer service to call, unlike EVS).
"""

from __future__ import annotations

from enum import StrEnum


class VolumeStatus(StrEnum):
    AVAILABLE = "available"
    IN_USE = "in-use"
    DELETING = "deleting"
    ERROR_DELETING = "error_deleting"


# What a delete may claim; the volume must also be detached and held by no unfinished job.
DELETABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.ERROR_DELETING})

# EVS's sort keys for the volume list, and its default order (newest first).
SORT_KEYS = frozenset({"id", "status", "size", "created_at"})
DEFAULT_SORT_KEY = "created_at"
DEFAULT_SORT_DIR = "desc"
MAX_LIMIT = 1000
