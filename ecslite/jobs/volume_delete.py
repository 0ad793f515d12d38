"""The volume delete job (EVS ``deleteVolume``): remove a detached volume's disk and record.

The accept transaction claimed the volume ``deleting`` (services/volumes.py), so no other
operation can attach or delete it while this runs. One step, ``deleteVolume``: the driver
removes the disk (idempotent: a resumed step that finds it gone succeeds), then the record goes
in the transaction that ends the job. If the driver fails, the volume is ``error_deleting`` and
the job FAIL with the driver's code; a new delete is accepted from there.

The job acts on no server, so its step declares no ``task_state``; it is bound to no host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ecslite.domain import errors
from ecslite.domain.codec import decoder
from ecslite.domain.job import JobType
from ecslite.domain.volume import VolumeStatus
from ecslite.jobs.steps import (
    FailurePolicy,
    JobDefinition,
    LostOwnership,
    Step,
    StepContext,
    StepFailed,
)
from ecslite.store.uow import UnitOfWork

DELETE_VOLUME = "deleteVolume"


@dataclass(frozen=True)
class DeleteVolumeParams:
    volume_id: str
    # Shown in the job's entities (as "size", EVS's name), as EVS does; the volume record is gone
    # once the job succeeds.
    size_gb: Annotated[int, Field(alias="size")] = 0
    volume_type: str = ""


Ctx = StepContext[DeleteVolumeParams]


def _delete(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        vol = uow.volumes.get(ctx.params.volume_id)
    if vol is None:
        return  # recorded gone already (a resumed job whose end was committed)
    if vol.status != VolumeStatus.DELETING or vol.server_id is not None:
        # The claim guarantees neither happens; if one did, deleting the disk would be wrong.
        raise StepFailed(
            errors.SYSTEM_ERROR.code,
            f"Volume {vol.id} is {vol.status}, not claimed for deletion by this job.",
        )
    ctx.driver.delete_disk(vol)


def _deleted(uow: UnitOfWork, ctx: Ctx) -> None:
    vid = ctx.params.volume_id
    if uow.volumes.get(vid) is not None and not uow.volumes.delete_if(
        vid, status=VolumeStatus.DELETING
    ):
        raise LostOwnership(ctx.job.id)


def _failed(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.set_status(
        ctx.params.volume_id, VolumeStatus.ERROR_DELETING, expected=VolumeStatus.DELETING
    )


DEFINITION = JobDefinition(
    job_type=JobType.DELETE_VOLUME,
    steps=(
        Step(DELETE_VOLUME, _delete, None, record=_deleted, compensate=_failed, no_return=True),
    ),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(DeleteVolumeParams),
    held_volumes=lambda p: frozenset({p.volume_id}),
)
