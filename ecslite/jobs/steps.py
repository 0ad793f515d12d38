"""What a job step is: driver work that can be repeated, and a record written with its success.

The runner calls ``act`` outside any transaction (it may be slow), then calls ``record`` inside
the same transaction that marks the sub-job SUCCESS. ``act`` must be idempotent: after a crash
the step runs again from the top. ``record`` guards its writes with compare-and-swap on the
job that owns the server, so a stale runner cannot overwrite newer state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, SubJob
from ecslite.domain.server import Server
from ecslite.drivers.base import Driver
from ecslite.store.uow import UnitOfWork, UowFactory


class StepFailed(Exception):
    """A step could not complete; ``code`` becomes the job's ``error_code``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LostOwnership(Exception):
    """The job no longer owns its server or lease; stop without writing anything."""


@dataclass(frozen=True)
class StepEnv:
    job: Job
    sub: SubJob
    server: Server | None
    driver: Driver
    uow_factory: UowFactory
    clock: Clock

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params


class JobHandler(Protocol):
    """How one job type runs its sub-jobs and undoes a failed run."""

    def act(self, env: StepEnv) -> None: ...

    def record(self, uow: UnitOfWork, env: StepEnv) -> None: ...

    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        """Mark the server for this step (task_state); raise LostOwnership if it moved on."""
        ...

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        """Compensate after ``env.sub`` failed; return True when the whole job must stop."""
        ...


def write_owned_server(uow: UnitOfWork, env: StepEnv, values: dict[str, Any]) -> None:
    """Write the step's server ``values`` only while this job still owns the server."""
    server_id = env.sub.server_id or env.job.server_id
    assert server_id is not None
    ok = uow.servers.cas(
        server_id,
        expected={"current_job_id": env.job.id},
        values={**values, "updated": env.clock.iso(millis=False)},
    )
    if not ok:
        raise LostOwnership(env.job.id)
