"""Which handler runs each job type: the one place a new job type is registered."""

from __future__ import annotations

from ecslite.domain.job import JobType
from ecslite.jobs import power, reinstall
from ecslite.jobs.create import CreateHandler, server_steps
from ecslite.jobs.delete import DELETE, DeleteHandler
from ecslite.jobs.power import PowerHandler
from ecslite.jobs.reboot import REBOOT, RebootHandler
from ecslite.jobs.reinstall import ReinstallHandler
from ecslite.jobs.steps import JobHandler


def handlers() -> dict[JobType, JobHandler]:
    return {
        JobType.REINSTALL: ReinstallHandler(),
        # Changing the OS is a reinstall from another image: the same steps and guarantees.
        JobType.CHANGE_OS: ReinstallHandler(),
        JobType.BATCH_STOP: PowerHandler(),
        JobType.BATCH_START: PowerHandler(),
        JobType.BATCH_REBOOT: RebootHandler(),
        JobType.CREATE: CreateHandler(),
        JobType.DELETE: DeleteHandler(),
    }


def step_names() -> list[str]:
    """Every sub-job name any job type runs (the steps faults can be injected into)."""
    return sorted(
        {
            *reinstall.step_names(stop_first=True),
            power.STOP,
            power.START,
            *server_steps(),
            DELETE,
            REBOOT,
        }
    )
