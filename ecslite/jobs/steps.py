"""What a job type is: a list of declared steps and a failure policy, run by the generic runner.

A ``Step`` names its sub-job, the server's ``task_state`` while it runs, ``act`` (driver work,
outside any transaction, idempotent: after a crash it runs again from the top), ``record`` (the
writes its success implies, committed in the same transaction that marks it SUCCESS and starts
the next step) and ``compensate`` (what undoing it alone takes, when the policy goes on after a
failure) and whether it is a point of no return for cancellation. A ``JobDefinition`` gathers
the steps of a job type with its typed parameters and its failure policy; the runner knows
nothing else about a job type. A job need not act on a server (a volume delete acts on a
detached volume): its steps then declare no ``task_state``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, JobType, SubJob
from ecslite.domain.server import Server, TaskState
from ecslite.domain.transitions import ServerChange
from ecslite.drivers.base import Driver
from ecslite.store.uow import UnitOfWork, UowFactory

P = TypeVar("P")


class StepFailed(Exception):
    """A step could not complete; ``code`` becomes the job's ``error_code``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# The error_code of a job (and its step) stopped by CancelJob.
CANCELLED_CODE = "Ecs.0099"
CANCELLED_REASON = "Cancelled: the operation was cancelled (or the server deleted) before it ended."


class LostOwnership(Exception):
    """The job no longer owns its server or lease; stop without writing anything."""


@dataclass(frozen=True)
class StepContext(Generic[P]):
    """What a step sees: its job and sub-job, the server as the step began, typed params."""

    job: Job
    sub: SubJob
    server: Server | None
    params: P
    driver: Driver
    uow_factory: UowFactory
    clock: Clock
    host_id: str | None = None  # the host the running runner is bound to (None: any host)

    @property
    def server_id(self) -> str:
        sid = self.sub.server_id or self.job.server_id
        assert sid is not None
        return sid

    def change_server(self, uow: UnitOfWork, change: ServerChange) -> None:
        """Apply ``change`` only while this job still owns the server."""
        ok = uow.servers.apply(
            self.server_id, change, updated=self.clock.iso(millis=False), owner_job=self.job.id
        )
        if not ok:
            raise LostOwnership(self.job.id)


Act = Callable[[StepContext[Any]], None]
Record = Callable[[UnitOfWork, StepContext[Any]], None]


@dataclass(frozen=True)
class Step:
    name: str
    act: Act
    task_state: TaskState | None = None
    record: Record | None = None
    compensate: Record | None = None
    # From this step on the job cannot be undone (it deletes what a rollback would restore):
    # a cancellation requested once it has started is ignored and the job finishes.
    no_return: bool = False


class FailurePolicy(Enum):
    # Stop at the failed step and undo the job (``JobDefinition.roll_back``), then FAIL.
    ROLL_BACK = "roll back"
    # Undo only the failed step (its ``compensate``), run the other steps, FAIL at the end.
    CONTINUE = "continue"


# roll_back(ctx of the failed step, the failure, names of the steps that had succeeded)
RollBack = Callable[[StepContext[Any], StepFailed, frozenset[str]], None]


@dataclass(frozen=True)
class JobDefinition:
    job_type: JobType
    steps: tuple[Step, ...]
    policy: FailurePolicy
    parse_params: Callable[[Mapping[str, Any]], Any] = field(default=lambda p: p)
    roll_back: RollBack | None = None
    # The volumes an unfinished job of this type may still attach, detach or delete (from its
    # typed params): no other job may claim them meanwhile (a volume delete checks this).
    held_volumes: Callable[[Any], frozenset[str]] = field(default=lambda p: frozenset())
    # The params of one host's part of a job spanning hosts (stored params, its server ids);
    # None: every part gets the whole job's params.
    part_params: Callable[[Mapping[str, Any], frozenset[str]], Mapping[str, Any]] | None = None

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"{self.job_type} has no step {name!r}")
