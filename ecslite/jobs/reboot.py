"""The batch reboot job: one ``rebootServer`` sub-job per server; SOFT or HARD.

A reboot is a power-off (ACPI, or at once for HARD) followed by a boot with the server's
current cloud-init data, which is unchanged, so cloud-init does not run its first-boot
modules again. One server's failure does not stop the others (policy CONTINUE): that server
is powered off at once and released SHUTOFF, so its recorded state is the guest's (a later
start boots it).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from ecslite.domain import transitions
from ecslite.domain.codec import decoder
from ecslite.domain.job import JobType
from ecslite.domain.server import TaskState
from ecslite.drivers.base import DriverError, GuestSize
from ecslite.jobs.steps import FailurePolicy, JobDefinition, Step, StepContext, StepFailed
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.reboot")

REBOOT = "rebootServer"


@dataclass(frozen=True)
class RebootParams:
    hard: bool = False  # HARD: power off at once instead of the ACPI button


Ctx = StepContext[RebootParams]


def _reboot(ctx: Ctx) -> None:
    assert ctx.server is not None
    with ctx.uow_factory(write=False) as uow:
        boot = uow.servers.boot_config(ctx.server.id)
        flavor = uow.flavors.get(ctx.server.flavor_id)
    try:
        ctx.driver.stop_server(ctx.server, hard=ctx.params.hard)
        ctx.driver.start_server(ctx.server, boot, size=GuestSize.of(flavor))
    except (DriverError, StepFailed):
        # Whether the guest went down before the failure is unknown: make it so (the
        # compensation records SHUTOFF) rather than record a running guest that may not be.
        with contextlib.suppress(DriverError):
            ctx.driver.stop_server(ctx.server, hard=True)
        raise


def _rebooted(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.rebooted())


def _failed(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.reboot_failed())


# The step's task_state is set at accept (SOFT or HARD, as the request said), so the step
# declares none and the server keeps the one it was claimed with.
DEFINITION = JobDefinition(
    job_type=JobType.BATCH_REBOOT,
    steps=(Step(REBOOT, _reboot, None, record=_rebooted, compensate=_failed),),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(RebootParams),
)


def task_state(hard: bool) -> TaskState:
    """The server's task_state while it reboots: ``rebooting`` or ``rebooting_hard``."""
    return TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING
