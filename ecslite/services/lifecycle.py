"""Delete and reboot servers: the commands, the states each starts from, and the acceptance
(every server marked and the job created atomically).

Like stop and start, a batch is refused as a whole (nothing changes) when any server is
unknown or busy. Delete accepts ACTIVE, SHUTOFF and ERROR servers (an ERROR left by a failed
delete or reinstall can be deleted); reboot only ACTIVE ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecslite.domain import errors, transitions
from ecslite.domain.allowed import AllowedStates, batch
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.server import TaskState, VmState
from ecslite.jobs import reboot
from ecslite.jobs.delete import DELETE, DeleteParams
from ecslite.jobs.reboot import REBOOT, RebootParams
from ecslite.services.accept import Claim, JobPlan, accept_job
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.services.power import MAX_BATCH
from ecslite.store.uow import UnitOfWork, UowFactory

# An ERROR left by a failed delete or reinstall can be deleted.
DELETE_ALLOWED = batch(VmState.ACTIVE, VmState.STOPPED, VmState.ERROR, verb="deleted")
REBOOT_ALLOWED = batch(VmState.ACTIVE, verb="rebooted")
# Nova's ``reboot`` action: the same states, Nova's wording (409). Nova also hard-reboots a
# SHUTOFF server into ACTIVE; ecslite's reboot job reboots running guests only (docs/api.md).
NOVA_REBOOT_ALLOWED = AllowedStates(
    frozenset({VmState.ACTIVE}),
    refusal="Cannot '{verb}' instance {id} while it is in vm_state {vm_state} "
    "(task_state {task_state}).",
    verb="reboot",
)


@dataclass(frozen=True)
class DeleteServers(Command[JobAccepted]):
    """Delete the servers with their system disks; ``delete_volume``: their data disks too."""

    project_id: str
    server_ids: tuple[str, ...]
    delete_volume: bool = False
    client_token: ClientToken | None = None


@dataclass(frozen=True)
class RebootServers(Command[JobAccepted]):
    """Reboot running servers, SOFT (ACPI) or ``hard``; ``nova``: Nova's one-server action."""

    project_id: str
    server_ids: tuple[str, ...]
    hard: bool = False
    client_token: ClientToken | None = None
    nova: bool = False


def handle_delete(cmd: DeleteServers, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_delete(
            project_id=cmd.project_id,
            server_ids=cmd.server_ids,
            delete_volume=cmd.delete_volume,
            uow_factory=ports.uow_factory,
            clock=ports.clock,
            client_token=cmd.client_token,
        )
    )


def handle_reboot(cmd: RebootServers, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_reboot(
            project_id=cmd.project_id,
            server_ids=cmd.server_ids,
            hard=cmd.hard,
            uow_factory=ports.uow_factory,
            clock=ports.clock,
            client_token=cmd.client_token,
            allowed=NOVA_REBOOT_ALLOWED if cmd.nova else REBOOT_ALLOWED,
        )
    )


@dataclass(frozen=True)
class BatchKind:
    job_type: JobType
    step: str
    task_state: TaskState
    allowed: AllowedStates
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
        allowed=DELETE_ALLOWED,
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
    allowed: AllowedStates = REBOOT_ALLOWED,
) -> str:
    """Return the id of a reboot job for ``server_ids``."""
    kind = BatchKind(
        job_type=JobType.BATCH_REBOOT,
        step=REBOOT,
        task_state=reboot.task_state(hard),
        allowed=allowed,
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
        kind.allowed.check(server)
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
