"""The delete job: one ``deleteServer`` sub-job per server of the request.

Each sub-job powers the guest off, detaches every disk, deletes the system disk and — only
with ``delete_volume`` — the data disks (kept ones stay recorded, detached, ``available``),
then removes the server's ports and record. Every driver call is idempotent, so a resumed
sub-job repeats them harmlessly. A failure puts that server in ERROR with a fault, from which a
new delete is accepted; the other servers of the request are still deleted (policy CONTINUE).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain import transitions
from ecslite.domain.codec import decoder
from ecslite.domain.job import JobType
from ecslite.domain.server import TaskState
from ecslite.jobs.steps import FailurePolicy, JobDefinition, Step, StepContext
from ecslite.store.uow import UnitOfWork

DELETE = "deleteServer"
DELETE_FAILED_FAULT = "delete_failed"


@dataclass(frozen=True)
class DeleteParams:
    delete_volume: bool = False  # delete the data disks too (the system disk always goes)


Ctx = StepContext[DeleteParams]


def _delete(ctx: Ctx) -> None:
    server = ctx.server
    assert server is not None
    with ctx.uow_factory(write=False) as uow:
        volumes = uow.volumes.attached_to([server.id])[server.id]
    ctx.driver.stop_server(server, hard=True)
    for vol in volumes:
        ctx.driver.detach_disk(server, vol)
    for vol in volumes:
        if vol.is_system_disk or ctx.params.delete_volume:
            ctx.driver.delete_disk(vol)
    ctx.driver.release_server(server)


def _deleted(uow: UnitOfWork, ctx: Ctx) -> None:
    server_id = ctx.server_id
    for vol in uow.volumes.attached_to([server_id])[server_id]:
        if vol.is_system_disk or ctx.params.delete_volume:
            uow.volumes.delete(vol.id)
        else:
            uow.volumes.set_attachment(vol.id, server_id=None, device=None, boot_index=None)
    uow.networks.delete_ports_of(server_id)
    uow.servers.delete_owned(server_id, job_id=ctx.job.id)


def _failed(uow: UnitOfWork, ctx: Ctx) -> None:
    # The runner has just recorded this step's failure in the same transaction: its reason
    # goes into the server's fault.
    job = uow.jobs.get(ctx.job.id)
    sub = next((s for s in job.sub_jobs if s.id == ctx.sub.id), None) if job else None
    reason = (sub.fail_reason if sub else None) or "unknown error"
    fault = {
        "code": DELETE_FAILED_FAULT,
        "message": f"Deleting the ECS failed: {reason}",
        "created": ctx.clock.iso(millis=False),
        "job_id": ctx.job.id,
    }
    ctx.change_server(uow, transitions.delete_failed(fault))


DEFINITION = JobDefinition(
    job_type=JobType.DELETE,
    steps=(
        Step(
            DELETE,
            _delete,
            TaskState.DELETING,
            record=_deleted,
            compensate=_failed,
            # A delete is not undone: cancelling it would leave the server in ERROR.
            no_return=True,
        ),
    ),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(DeleteParams),
)
