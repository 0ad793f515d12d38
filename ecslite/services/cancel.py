"""Cancel a running job, and delete a server whatever it is doing (Nova's delete).

``CancelJob`` only marks the job: the runner that holds it reads the mark at its next step
boundary and undoes the job through its failure policy (jobs/runner.py), so a cancelled job
ends exactly like a failed one — rolled back, nothing orphaned, quota released — with
``error_code`` Ecs.0099. The step running when the mark is set finishes first; a job past a
point of no return (a reinstall deleting the old disk, a delete) ignores it and finishes.

``CancelAnyJob`` is the operator's cancel (``ecslite jobs cancel``, the admin API): any
project's job, by id alone, through the same mark; an ended job is refused, not ignored.

``DeleteServerAnyState`` is Nova's ``DELETE /servers/{id}``: Nova deletes in any state, so a
server held by a job has that job cancelled, then (once it has ended) is deleted by the same
delete job as ECS's batch delete. A server a cancelled create removed is simply gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.job import Job, JobStatus, JobType
from ecslite.jobs.steps import CANCELLED_CODE
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.lifecycle import accept_delete

# How long a delete waits for a cancelled job to reach its next step boundary and roll back.
CANCEL_WAIT_SECONDS = 300.0
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class CancelJob(Command[bool]):
    """Ask the project's job ``job_id`` to stop; answers False when it had already ended."""

    project_id: str
    job_id: str


def handle_cancel(cmd: CancelJob, ports: Ports) -> bool:
    with ports.uow_factory() as uow:
        if uow.jobs.get(cmd.job_id, cmd.project_id) is None:
            raise errors.EcsError(errors.JOB_NOT_FOUND)
        marked = uow.jobs.request_cancel(cmd.job_id, cmd.project_id)
        uow.commit()
    return marked


def ended_cancelled(job: Job) -> bool:
    """Whether the job ended by its cancellation (rolled back), not by a failure or success."""
    return job.status is JobStatus.FAIL and job.error_code == CANCELLED_CODE


@dataclass(frozen=True)
class CancelAnyJob(Command[None]):
    """The operator asks job ``job_id`` (of any project) to stop; refused when it has ended."""

    job_id: str


def handle_cancel_any(cmd: CancelAnyJob, ports: Ports) -> None:
    with ports.uow_factory(write=False) as uow:
        job = uow.jobs.get(cmd.job_id)
    if job is None:
        raise errors.EcsError(errors.JOB_NOT_FOUND, f"No job {cmd.job_id}.")
    # It may end between the read and the mark: the mark's own check (unfinished only) decides.
    if job.status.terminal or not handle_cancel(CancelJob(job.project_id, job.id), ports):
        with ports.uow_factory(write=False) as uow:
            ended = uow.jobs.get(cmd.job_id)
        status = ended.status.value if ended is not None else job.status.value
        raise errors.EcsError(
            errors.JOB_ENDED, f"Job {cmd.job_id} ended {status}: there is nothing to cancel."
        )


@dataclass(frozen=True)
class DeleteServerAnyState(Command[JobAccepted | None]):
    """Delete one server in any state; None when a cancelled create has removed it already.

    ``wait_seconds``: how long to wait for a cancelled job to end before refusing (409).
    """

    project_id: str
    server_id: str
    wait_seconds: float = CANCEL_WAIT_SECONDS


def handle_delete_any_state(cmd: DeleteServerAnyState, ports: Ports) -> JobAccepted | None:
    deadline = time.monotonic() + cmd.wait_seconds
    seen = False
    while True:
        with ports.uow_factory(write=False) as uow:
            server = uow.servers.get(cmd.server_id, cmd.project_id)
            job = uow.jobs.get(server.current_job_id) if server and server.current_job_id else None
        if server is None:
            if not seen:
                raise errors.EcsError(errors.SERVER_NOT_FOUND)
            return None  # its create was cancelled and rolled back: nothing is left to delete
        seen = True
        if server.locked:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE, f"Instance {server.id} is locked; unlock it first."
            )
        if job is not None and job.job_type is JobType.DELETE:
            return JobAccepted(job.id)  # already being deleted
        if job is None or job.status.terminal:
            try:
                return JobAccepted(
                    accept_delete(
                        project_id=cmd.project_id,
                        server_ids=(cmd.server_id,),
                        delete_volume=False,
                        uow_factory=ports.uow_factory,
                        clock=ports.clock,
                    )
                )
            except errors.EcsError as exc:
                # Another request claimed it in between: cancel that one too.
                if exc.spec is not errors.BAD_SERVER_STATE:
                    raise
        else:
            handle_cancel(CancelJob(cmd.project_id, job.id), ports)
        if time.monotonic() > deadline:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE,
                f"Server {cmd.server_id}: the cancelled operation has not finished its current "
                "step yet; retry the delete.",
            )
        time.sleep(_POLL_SECONDS)
