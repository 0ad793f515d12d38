"""Every job type the runner can run: adding one is a module declaring its ``JobDefinition``
plus one line here."""

from __future__ import annotations

from collections.abc import Mapping

from ecslite.domain.job import JobType
from ecslite.jobs import create, delete, password, power, reboot, reinstall, volume_delete
from ecslite.jobs.steps import JobDefinition

DEFINITIONS: Mapping[JobType, JobDefinition] = {
    d.job_type: d
    for d in (
        reinstall.DEFINITION,
        reinstall.CHANGE_OS_DEFINITION,
        power.STOP_DEFINITION,
        power.START_DEFINITION,
        reboot.DEFINITION,
        create.DEFINITION,
        delete.DEFINITION,
        volume_delete.DEFINITION,
        password.DEFINITION,
    )
}


def step_names() -> list[str]:
    """Every sub-job name any job type runs (the steps faults can be injected into)."""
    return sorted({s.name for d in DEFINITIONS.values() for s in d.steps})
