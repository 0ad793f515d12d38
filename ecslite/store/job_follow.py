"""How a job changes under the repository's own writes, so it can be followed without reading it
back: the job event bodies render from the followed copy (``JobRepo.current``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ecslite.domain.job import Job, JobStatus, Phase

# Job columns GET /jobs shows: a write to any other (lease, phase) is not an event.
JOB_VIEW_COLUMNS = frozenset({"status", "begin_time", "end_time", "error_code", "fail_reason"})
# Columns a write may set that the repository can apply to the job it knows (below); a write
# to any other column makes it forget the job, which is then read again when asked for.
_JOB_FIELDS = {
    "status": JobStatus,
    "phase": Phase,
    "host_id": str,
    "begin_time": str,
    "end_time": str,
    "error_code": str,
    "fail_reason": str,
}
_LEASE_COLUMNS = frozenset({"lease_owner", "lease_expires"})
_SUB_JOB_FIELDS = frozenset({"begin_time", "end_time", "error_code", "fail_reason"})


def applied(job: Job, values: Mapping[str, Any]) -> Job | None:
    """``job`` after a write of ``values`` to its row; None when the write is not followed."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key in _LEASE_COLUMNS:
            continue
        kind = _JOB_FIELDS.get(key)
        if kind is None:
            return None
        changes[key] = None if value is None else kind(getattr(value, "value", value))
    return dataclasses.replace(job, **changes) if changes else job


def sub_applied(job: Job, sub_id: str, values: Mapping[str, Any]) -> Job | None:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "status":
            changes[key] = JobStatus(getattr(value, "value", value))
        elif key in _SUB_JOB_FIELDS:
            changes[key] = value
        else:
            return None
    subs = list(job.sub_jobs)
    for i, s in enumerate(subs):
        if s.id == sub_id:
            subs[i] = dataclasses.replace(s, **changes)
            return dataclasses.replace(job, sub_jobs=tuple(subs))
    return None
