"""Batch stop and start jobs: one sub-job per server; one server's failure does not stop the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ecslite.domain import transitions
from ecslite.domain.codec import decoder
from ecslite.domain.job import JobType
from ecslite.domain.server import TaskState, VmState
from ecslite.drivers.base import GuestSize
from ecslite.jobs.steps import FailurePolicy, JobDefinition, Step, StepContext
from ecslite.store.uow import UnitOfWork

STOP = "stopServer"
START = "startServer"


@dataclass(frozen=True)
class PowerParams:
    # HARD stop: power off at once (QEMU quit) instead of the ACPI button. Stored only when set.
    hard: Annotated[bool, Field(exclude_if=lambda hard: not hard)] = False


def _stop(ctx: StepContext[PowerParams]) -> None:
    assert ctx.server is not None
    if ctx.server.vm_state is not VmState.STOPPED:
        ctx.driver.stop_server(ctx.server, hard=ctx.params.hard)


def _start(ctx: StepContext[PowerParams]) -> None:
    assert ctx.server is not None
    if ctx.server.vm_state is not VmState.ACTIVE:
        with ctx.uow_factory(write=False) as uow:
            boot = uow.servers.boot_config(ctx.server.id)
            flavor = uow.flavors.get(ctx.server.flavor_id)
        ctx.driver.start_server(ctx.server, boot, size=GuestSize.of(flavor))


def _stopped(uow: UnitOfWork, ctx: StepContext[PowerParams]) -> None:
    ctx.change_server(uow, transitions.released(VmState.STOPPED))


def _started(uow: UnitOfWork, ctx: StepContext[PowerParams]) -> None:
    ctx.change_server(uow, transitions.released(VmState.ACTIVE))


def _release(uow: UnitOfWork, ctx: StepContext[PowerParams]) -> None:
    ctx.change_server(uow, transitions.released())


STOP_DEFINITION = JobDefinition(
    job_type=JobType.BATCH_STOP,
    steps=(Step(STOP, _stop, TaskState.POWERING_OFF, record=_stopped, compensate=_release),),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(PowerParams),
)
START_DEFINITION = JobDefinition(
    job_type=JobType.BATCH_START,
    steps=(Step(START, _start, TaskState.POWERING_ON, record=_started, compensate=_release),),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(PowerParams),
)
