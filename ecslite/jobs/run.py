"""A job while one runner runs it, and the running of one step's act.

``Run`` is what the runner knows of a job between its transactions: its definition, typed
parameters, each sub-job's status so far, the job as its last commit left it, and what is still
to be written with the next lease renewal (the job's start).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ecslite.domain import errors
from ecslite.domain.job import Job, JobStatus
from ecslite.drivers.base import DriverError
from ecslite.jobs import failpoints
from ecslite.jobs.steps import JobDefinition, LostOwnership, Step, StepContext, StepFailed
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs")


def act(ctx: StepContext[Any], step: Step, fault: tuple[str, str] | None) -> None:
    """Run the step's driver work (or fail it with ``fault``); any failure as StepFailed."""
    try:
        if fault is not None:
            raise StepFailed(fault[0], fault[1])
        failpoints.hit(f"before_act:{step.name}")
        step.act(ctx)
        failpoints.hit(f"after_act:{step.name}")
    except DriverError as exc:
        raise StepFailed(exc.code, exc.message) from exc
    except (StepFailed, LostOwnership):
        raise
    except Exception as exc:
        log.exception("step crashed job_id=%s step=%s", ctx.job.id, step.name)
        raise StepFailed(errors.SYSTEM_ERROR.code, f"Internal error in {step.name}.") from exc


class Run:
    """A job being run: its definition, typed parameters and each sub-job's status so far."""

    def __init__(self, job: Job, definition: JobDefinition, lease: str) -> None:
        self.job = job
        self.lease = lease
        self.definition = definition
        self.params = definition.parse_params(job.params)
        self.status = {s.id: s.status for s in job.sub_jobs}
        self.t0 = time.monotonic()
        self.started: dict[str, float] = {}
        # The job as the runner's last committed write left it; None when unknown.
        self.current: Job | None = None
        # The sub-jobs still to run, in order.
        self.todo = [s for s in job.sub_jobs if not s.status.terminal]
        # The job's start (INIT → RUNNING), written with its first lease renewal.
        self.start: dict[str, object] = {}
        # The first step's context and fault, once its boundary is committed with the start.
        self.first: tuple[StepContext[Any], tuple[str, str] | None] | None = None
        # A resumed job that had reached a point of no return stays past it.
        self.past_no_return = any(
            definition.step(s.job_type).no_return
            for s in job.sub_jobs
            if s.status is not JobStatus.INIT
        )

    def take_start(self) -> dict[str, object]:
        start, self.start = self.start, {}
        return start

    def track(self, uow: UnitOfWork) -> None:
        if self.current is not None:
            uow.jobs.track(self.current)
