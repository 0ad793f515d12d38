"""Stop and start servers: the command (ECS batch ``os-stop``/``os-start``, Nova's one-server
actions, the console), the states each may start from, and the acceptance (all servers marked
and the job created in one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecslite.domain import errors, transitions
from ecslite.domain.allowed import AllowedStates, batch
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.server import TaskState, VmState
from ecslite.jobs.power import START, STOP, PowerParams
from ecslite.services.accept import Claim, JobPlan, accept_job
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.store.uow import UnitOfWork, UowFactory

MAX_BATCH = 1000
_NOVA_REFUSAL = (
    "Cannot '{verb}' instance {id} while it is in vm_state {vm_state} (task_state {task_state})."
)
# ECS accepts a stop of a stopped server (and a start of a running one) as a no-op; Nova
# refuses an action whose result is already there (409).
ALLOWED: dict[tuple[bool, bool], AllowedStates] = {
    # (nova, stop)
    (False, True): batch(VmState.ACTIVE, VmState.STOPPED, verb="stopped"),
    (False, False): batch(VmState.ACTIVE, VmState.STOPPED, verb="started"),
    (True, True): AllowedStates(frozenset({VmState.ACTIVE}), refusal=_NOVA_REFUSAL, verb="stop"),
    (True, False): AllowedStates(frozenset({VmState.STOPPED}), refusal=_NOVA_REFUSAL, verb="start"),
}


@dataclass(frozen=True)
class PowerServers(Command[JobAccepted]):
    """Stop (``stop``) or start the servers; ``hard`` stops without waiting for the guest.

    ``nova``: the states and wording of Nova's one-server ``os-stop``/``os-start``.
    """

    project_id: str
    server_ids: tuple[str, ...]
    stop: bool
    hard: bool = False
    client_token: ClientToken | None = None
    nova: bool = False


def handle(cmd: PowerServers, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_power_action(
            project_id=cmd.project_id,
            server_ids=cmd.server_ids,
            stop=cmd.stop,
            hard=cmd.hard,
            uow_factory=ports.uow_factory,
            clock=ports.clock,
            client_token=cmd.client_token,
            allowed=ALLOWED[(cmd.nova, cmd.stop)],
        )
    )


def accept_power_action(
    *,
    project_id: str,
    server_ids: Sequence[str],
    stop: bool,
    uow_factory: UowFactory,
    clock: Clock,
    hard: bool = False,
    client_token: ClientToken | None = None,
    allowed: AllowedStates | None = None,
) -> str:
    """Return the id of a batch job; refuse the whole batch if any server cannot take part.

    A server that is busy (a reinstall or another power action running) is refused with
    Ecs.0100, so a power action can never interleave with a reinstall.
    """
    if not server_ids:
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must list at least one server.")
    if len(set(server_ids)) != len(server_ids):
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must not repeat a server id.")
    if len(server_ids) > MAX_BATCH:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"servers may list at most {MAX_BATCH} servers."
        )
    states = allowed if allowed is not None else ALLOWED[(False, stop)]
    return accept_job(
        project_id=project_id,
        client_token=client_token,
        uow_factory=uow_factory,
        clock=clock,
        plan=lambda uow, job_id: _plan(
            uow, job_id, project_id, server_ids, stop, clock, hard, states
        ),
    )


def _plan(
    uow: UnitOfWork,
    job_id: str,
    project_id: str,
    server_ids: Sequence[str],
    stop: bool,
    clock: Clock,
    hard: bool,
    allowed: AllowedStates,
) -> JobPlan:
    step = STOP if stop else START
    task = TaskState.POWERING_OFF if stop else TaskState.POWERING_ON
    hosts: set[str] = set()
    claims, subs = [], []
    for i, sid in enumerate(server_ids):
        server = uow.servers.get(sid, project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND, f"Server {sid} does not exist.")
        allowed.check(server)
        hosts.add(server.host_id)
        claims.append(Claim(server, transitions.claimed(job_id, task)))
        subs.append(
            SubJob(
                id=new_job_id(),
                job_id=job_id,
                seq=i,
                job_type=step,
                server_id=sid,
                status=JobStatus.INIT,
            )
        )
    job = Job(
        id=job_id,
        project_id=project_id,
        job_type=JobType.BATCH_STOP if stop else JobType.BATCH_START,
        status=JobStatus.INIT,
        server_id=None,
        # A batch spanning hosts is run by any worker (a sim-only situation today).
        host_id=hosts.pop() if len(hosts) == 1 else None,
        params=encode(PowerParams(hard=stop and hard)),
        created=clock.iso(),
        sub_jobs=tuple(subs),
    )
    return JobPlan(job, tuple(claims))
