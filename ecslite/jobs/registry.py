"""Every job type the runner can run: adding one is a module declaring its ``JobDefinition``
plus one line here."""

from __future__ import annotations

from collections.abc import Mapping

from ecslite.domain.job import JobType
from ecslite.jobs import power, reinstall
from ecslite.jobs.steps import JobDefinition

DEFINITIONS: Mapping[JobType, JobDefinition] = {
    d.job_type: d for d in (reinstall.DEFINITION, power.STOP_DEFINITION, power.START_DEFINITION)
}
