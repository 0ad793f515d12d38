"""One-click password reset: the command (ECS ``os-reset-password`` and its batch form, Nova's
``changePassword``, the console, the CLI), its validator and its acceptance.

The new password is checked by the reinstall's rules and reduced to its SHA-512 crypt hash in
``prepare``; only the hash reaches the job. A running server must run an image whose guest
agent sets passwords (the image's ``password_agent``); a stopped one has the password written
into its disk offline, whatever its image, and it applies at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecslite.cloudinit.payload import hash_password
from ecslite.domain import errors, transitions
from ecslite.domain.allowed import AllowedStates, batch
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.reinstall import check_nova_password, check_password
from ecslite.domain.server import Server, TaskState, VmState
from ecslite.jobs.password import RESET, PasswordParams
from ecslite.services.accept import Claim, JobPlan, accept_job
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.store.uow import UnitOfWork

MAX_BATCH = 1000
ALLOWED = batch(VmState.ACTIVE, VmState.STOPPED, verb="given a new password")
_NOVA_REFUSAL = (
    "Cannot 'changePassword' instance {id} while it is in vm_state {vm_state} "
    "(task_state {task_state})."
)
NOVA_ALLOWED = AllowedStates(frozenset({VmState.ACTIVE}), refusal=_NOVA_REFUSAL)


@dataclass(frozen=True)
class ResetPasswords(Command[JobAccepted]):
    """Give root on each server the password ``new_password`` (plaintext until ``prepare``).

    ``dry_run``: check everything and change nothing (the answer's job id is empty).
    ``nova``: Nova's ``changePassword`` (only a running server; Nova's wording).
    """

    project_id: str
    server_ids: tuple[str, ...]
    new_password: str = field(repr=False)
    dry_run: bool = False
    client_token: ClientToken | None = None
    nova: bool = False


def prepare(cmd: ResetPasswords) -> str:
    """Check the request's own rules; return the password's hash (the plaintext stops here)."""
    if not cmd.server_ids:
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must list at least one server.")
    if len(set(cmd.server_ids)) != len(cmd.server_ids):
        raise errors.EcsError(errors.INVALID_PARAMETER, "servers must not repeat a server id.")
    if len(cmd.server_ids) > MAX_BATCH:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"servers may list at most {MAX_BATCH} servers."
        )
    # Nova's changePassword takes any usable password, as Nova does; ECS's doors its rule.
    (check_nova_password if cmd.nova else check_password)(cmd.new_password)
    return hash_password(cmd.new_password)


def handle(cmd: ResetPasswords, ports: Ports) -> JobAccepted:
    password_hash = prepare(cmd)
    allowed = NOVA_ALLOWED if cmd.nova else ALLOWED
    if cmd.dry_run:
        with ports.uow_factory(write=False) as uow:
            _check(uow, cmd, allowed)
        return JobAccepted(job_id="", server_ids=cmd.server_ids)
    job_id = accept_job(
        project_id=cmd.project_id,
        client_token=cmd.client_token,
        uow_factory=ports.uow_factory,
        clock=ports.clock,
        plan=lambda uow, jid: _plan(uow, jid, cmd, password_hash, allowed, ports.clock),
    )
    return JobAccepted(job_id=job_id, server_ids=cmd.server_ids)


def _check(uow: UnitOfWork, cmd: ResetPasswords, allowed: AllowedStates) -> list[Server]:
    servers = []
    for sid in cmd.server_ids:
        server = uow.servers.get(sid, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND, f"Server {sid} does not exist.")
        allowed.check(server)
        if server.vm_state is VmState.ACTIVE:
            image = uow.catalog.image(server.image_id)
            if image is None or not image.password_agent:
                raise errors.EcsError(
                    errors.INVALID_IMAGE,
                    f"Server {sid} runs an image without a password reset agent "
                    "(os-resetpwd-flag is False); stop it to reset its password offline.",
                )
        servers.append(server)
    return servers


def _plan(
    uow: UnitOfWork,
    job_id: str,
    cmd: ResetPasswords,
    password_hash: str,
    allowed: AllowedStates,
    clock: Clock,
) -> JobPlan:
    servers = _check(uow, cmd, allowed)
    hosts = {s.host_id for s in servers}
    subs = tuple(
        SubJob(
            id=new_job_id(),
            job_id=job_id,
            seq=i,
            job_type=RESET,
            server_id=s.id,
            status=JobStatus.INIT,
        )
        for i, s in enumerate(servers)
    )
    job = Job(
        id=job_id,
        project_id=cmd.project_id,
        job_type=JobType.RESET_PASSWORD,
        status=JobStatus.INIT,
        server_id=servers[0].id if len(servers) == 1 else None,
        host_id=hosts.pop() if len(hosts) == 1 else None,
        params=encode(PasswordParams(password_hash=password_hash)),
        created=clock.iso(),
        sub_jobs=subs,
    )
    claims = tuple(
        Claim(s, transitions.claimed(job_id, TaskState.UPDATING_PASSWORD)) for s in servers
    )
    return JobPlan(job, claims)
