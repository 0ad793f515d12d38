"""Accept a batch delete or reboot: every server is marked and the job created atomically.

Like stop and start, a batch is refused as a whole (nothing changes) when any server is
unknown or busy. Delete accepts ACTIVE, SHUTOFF and ERROR servers (an ERROR left by a failed
delete or reinstall can be deleted); reboot only ACTIVE ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecslite.domain import errors, transitions
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.server import TaskState, VmState
from ecslite.jobs import reboot
from ecslite.jobs.delete import DELETE, DeleteParams
from ecslite.jobs.reboot import REBOOT, RebootParams
from ecslite.services.accept import Claim, JobPlan, accept_job
from ecslite.services.idempotency import ClientToken
from ecslite.store.uow import UnitOfWork, UowFactory

MAX_BATCH = 1000


@dataclass(frozen=True)
class BatchKind:
    job_type: JobType
    step: str
    task_state: TaskState
    allowed: frozenset[VmState]
    verb: str
    params: dict[str, Any]


def accept_delete(
    *,
    project_id: str,
    server_ids: Sequence[str],
    delete_volume: bool,
    uow_factory: UowFactory,
    clock: Clock,
    client_token: ClientToken | None = None,
) -> str:
    """Return the id of a delete job for ``server_ids``."""
    kind = BatchKind(
        job_type=JobType.DELETE,
        step=DELETE,
        task_state=TaskState.DELETING,
        allowed=frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}),
        verb="deleted",
        params=encode(DeleteParams(delete_volume=delete_volume)),
    )
    return _accept_batch(project_id, server_ids, kind, uow_factory, clock, client_token)


def accept_reboot(
    *,
    project_id: str,
    server_ids: Sequence[str],
    hard: bool,
    uow_factory: UowFactory,
    clock: Clock,
    client_token: ClientToken | None = None,
) -> str:
    """Return the id of a reboot job for ``server_ids``."""
    kind = BatchKind(
        job_type=JobType.BATCH_REBOOT,
        step=REBOOT,
        task_state=reboot.task_state(hard),
        allowed=frozenset({VmState.ACTIVE}),
        verb="rebooted",
        params=encode(RebootParams(hard=hard)),
    )
    return _accept_batch(project_id, server_ids, kind, uow_factory, clock, client_token)


def _accept_batch(
    project_id: str,
    server_ids: Sequence[str],
    kind: BatchKind,
    uow_factory: UowFactory,
    clock: Clock,
    client_token: ClientToken | None,
) -> str:
    if not server_ids:
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must list at least one server.")
    if len(set(server_ids)) != len(server_ids):
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must not repeat a server id.")
    if len(server_ids) > MAX_BATCH:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"servers may list at most {MAX_BATCH} servers."
        )
    return accept_job(
        project_id=project_id,
        client_token=client_token,
        uow_factory=uow_factory,
        clock=clock,
        plan=lambda uow, job_id: _plan(uow, job_id, project_id, server_ids, kind, clock),
    )


def _plan(
    uow: UnitOfWork,
    job_id: str,
    project_id: str,
    server_ids: Sequence[str],
    kind: BatchKind,
    clock: Clock,
) -> JobPlan:
    hosts: set[str] = set()
    claims, subs = [], []
    for i, sid in enumerate(server_ids):
        server = uow.servers.get(sid, project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND, f"Server {sid} does not exist.")
        if server.busy or server.vm_state not in kind.allowed:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE,
                f"Server {sid} is {server.status}; it cannot be {kind.verb} now.",
            )
        hosts.add(server.host_id)
        claims.append(Claim(server, transitions.claimed(job_id, kind.task_state)))
        subs.append(
            SubJob(
                id=new_job_id(),
                job_id=job_id,
                seq=i,
                job_type=kind.step,
                server_id=sid,
                status=JobStatus.INIT,
            )
        )
    job = Job(
        id=job_id,
        project_id=project_id,
        job_type=kind.job_type,
        status=JobStatus.INIT,
        server_id=server_ids[0] if len(server_ids) == 1 else None,
        host_id=hosts.pop() if len(hosts) == 1 else None,
        params=kind.params,
        created=clock.iso(),
        sub_jobs=tuple(subs),
    )
    return JobPlan(job, tuple(claims))
