"""Jobs and sub-jobs: the asynchronous operations the API reports on ``GET /v1/.../jobs``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAIL)


class JobType(StrEnum):
    REINSTALL = "reinstallOS"
    BATCH_STOP = "batchStopServers"
    BATCH_START = "batchStartServers"
    BATCH_REBOOT = "batchRebootServers"
    CREATE = "createServer"
    DELETE = "deleteServer"
    CHANGE_OS = "changeOS"
    DELETE_VOLUME = "deleteVolume"
    RESET_PASSWORD = "resetPassword"


class Phase(StrEnum):
    FORWARD = "forward"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class SubJob:
    id: str
    job_id: str
    seq: int
    job_type: str
    server_id: str | None
    status: JobStatus
    begin_time: str | None = None
    end_time: str | None = None
    error_code: str | None = None
    fail_reason: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    project_id: str
    job_type: JobType
    status: JobStatus
    server_id: str | None
    params: dict[str, Any]
    created: str
    host_id: str | None = None
    phase: Phase = Phase.FORWARD
    begin_time: str | None = None
    end_time: str | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    sub_jobs: tuple[SubJob, ...] = field(default_factory=tuple)
    # Asked to stop (CancelJob): the runner rolls it back at its next step boundary.
    cancel_requested: bool = False
    # A part of a job that spans hosts: the job its caller sees (docs/scale-out.md).
    parent_id: str | None = None


# The host_id of a job that spans hosts: no runner is bound to it (host ids are names, never
# this), so only its parts, one per host, are run; the job itself ends when they all have.
PARTS_HOST = "(parts)"
