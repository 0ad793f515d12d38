"""Reinstall and change OS: the command every door builds, its validator, and the acceptance
(check every rule, then mark the server and create the job atomically).

``ReinstallServer`` is what the ECS routes (``reinstallos``, ``changeos``), the console and the
CLI build; ``prepare`` checks the request's own rules and reduces the password to its hash,
once, for every door; ``accept_reinstall`` checks the rules that need the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecslite.cloudinit.payload import build_boot_config, hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain import errors, transitions
from ecslite.domain.allowed import AllowedStates
from ecslite.domain.clock import Clock, new_job_id, new_uuid
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.reinstall import (
    Encryption,
    ReinstallParams,
    check_credentials,
    check_user_data_size,
    parse_encryption,
)
from ecslite.domain.server import TaskState, VmState
from ecslite.jobs.reinstall import step_names
from ecslite.services.accept import Claim, JobPlan, accept_job
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.store.uow import UnitOfWork, UowFactory

# A reinstall starts from a stopped server, from a running one when asked to stop it first, and
# from the ERROR a reinstall that could not be rolled back left (to retry it).
ALLOWED = AllowedStates(
    frozenset({VmState.STOPPED}),
    after_failed_reinstall=True,
    refusal='The ECS is {status}; stop it first, or pass "mode": "withStopServer".',
    busy_refusal="Another operation ({task_state}) is in progress on this ECS.",
)
ALLOWED_WITH_STOP = ALLOWED.with_states(VmState.ACTIVE)


@dataclass(frozen=True)
class ReinstallServer(Command[JobAccepted]):
    """Reinstall a server from its image, or (``image_id`` set) change its OS to another image.

    ``user_data`` is the raw bytes (each door undoes its own wire encoding); ``adminpass`` is
    plaintext only until ``prepare`` hashes it, and never printed.
    """

    project_id: str
    server_id: str
    keyname: str | None = None
    userid: str | None = None
    adminpass: str | None = field(default=None, repr=False)
    user_data: bytes | None = None
    byol: bool = False
    # ``metadata.__system__encrypted`` / ``__system__cmkid`` as given.
    system_encrypted: str | None = None
    system_cmkid: str | None = None
    stop_first: bool = False
    client_token: ClientToken | None = None
    image_id: str | None = None


def prepare(cmd: ReinstallServer) -> ReinstallCommand:
    """Check the request's own rules and hash the password: the one validator of every door."""
    if cmd.user_data is not None:
        check_user_data_size(cmd.user_data)
        check_user_data(cmd.user_data)
    check_credentials(
        adminpass=cmd.adminpass,
        keyname=cmd.keyname,
        userid=cmd.userid,
        has_user_data=bool(cmd.user_data),
    )
    encryption = parse_encryption(cmd.system_encrypted, cmd.system_cmkid)
    return ReinstallCommand(
        project_id=cmd.project_id,
        server_id=cmd.server_id,
        keyname=cmd.keyname,
        userid=cmd.userid,
        # The plaintext password stops here: only its SHA-512 crypt hash travels further.
        password_hash=hash_password(cmd.adminpass) if cmd.adminpass is not None else None,
        user_data=cmd.user_data,
        byol=cmd.byol,
        encryption=encryption,
        stop_first=cmd.stop_first,
        client_token=cmd.client_token,
        image_id=cmd.image_id,
        change_os=cmd.image_id is not None,
    )


def handle(cmd: ReinstallServer, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_reinstall(prepare(cmd), uow_factory=ports.uow_factory, clock=ports.clock)
    )


@dataclass(frozen=True)
class ReinstallCommand:
    """A validated request. The password is already a SHA-512 crypt hash: no plaintext here."""

    project_id: str
    server_id: str
    keyname: str | None
    userid: str | None
    password_hash: str | None
    user_data: bytes | None
    byol: bool
    encryption: Encryption | None
    stop_first: bool
    client_token: ClientToken | None = None
    # Nova rebuild: another image for the new system disk (None: the server's own), and leave
    # a SHUTOFF server SHUTOFF afterwards instead of ACTIVE.
    image_id: str | None = None
    keep_power_state: bool = False
    # ECS change OS (``/changeos``): the same job with ``image_id`` set, reported as changeOS.
    change_os: bool = False


def accept_reinstall(cmd: ReinstallCommand, *, uow_factory: UowFactory, clock: Clock) -> str:
    """Return the id of a new reinstall job, or of the one this request's client token made.

    Post: the server is in REBUILD (task_state ``rebuilding``) owned by the job, and the job
    with its sub-jobs exists, both from one transaction; or an ``EcsError`` and nothing changed.
    """
    return accept_job(
        project_id=cmd.project_id,
        client_token=cmd.client_token,
        uow_factory=uow_factory,
        clock=clock,
        plan=lambda uow, job_id: _plan(uow, job_id, cmd, clock),
    )


def _plan(uow: UnitOfWork, job_id: str, cmd: ReinstallCommand, clock: Clock) -> JobPlan:
    server = uow.servers.get(cmd.server_id, cmd.project_id)
    if server is None:
        raise errors.EcsError(errors.SERVER_NOT_FOUND)
    image = uow.catalog.image(cmd.image_id or server.image_id)
    # Another project's private image looks exactly like a missing one.
    foreign = image is not None and image.project_id not in (None, cmd.project_id)
    if image is None or (cmd.image_id is not None and foreign):
        raise errors.EcsError(
            errors.IMAGE_NOT_FOUND,
            "The server's original image was deleted."
            if cmd.image_id is None
            else "No such image in this project.",
        )
    if not image.active:
        raise errors.EcsError(errors.IMAGE_NOT_ACTIVE)
    if not image.cloud_init:
        raise errors.EcsError(
            errors.INVALID_IMAGE,
            "The server's image has no Cloud-Init or Cloudbase-Init installed; "
            "reinstall it with the API for images without Cloud-Init.",
        )
    (ALLOWED_WITH_STOP if cmd.stop_first else ALLOWED).check(server)
    stop_first = cmd.stop_first and server.vm_state is VmState.ACTIVE
    system_disk = uow.volumes.system_disk(server.id)
    if system_disk is None and server.reinstall_failed and server.fault:
        retained = server.fault.get("retained_volume_id")
        system_disk = uow.volumes.get(retained) if retained else None
    if system_disk is None:
        raise errors.EcsError(errors.NO_SYSTEM_DISK)
    # Another image (change OS, Nova rebuild) must fit the disk; the server's own image was
    # checked when the server was created.
    if image.id != server.image_id and system_disk.size_gb < image.min_disk_gb:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"The system disk ({system_disk.size_gb} GB) is smaller than the image's "
            f"minimum disk ({image.min_disk_gb} GB).",
        )

    public_key = None
    if cmd.keyname is not None:
        project = uow.catalog.project(cmd.project_id)
        user = uow.identity.user(cmd.userid or "")
        keypair = uow.catalog.keypair(user.id, cmd.keyname) if user else None
        if (
            keypair is None
            or project is None
            or user is None
            or user.domain_id != project.domain_id
        ):
            raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)
        public_key = keypair.public_key
    if cmd.encryption is not None:
        key = uow.catalog.kms_key(cmd.encryption.cmk_id, cmd.project_id)
        if key is None or not key.enabled:
            raise errors.EcsError(
                errors.BAD_ENCRYPTION_KEY, "The CMK does not exist or is not enabled."
            )

    boot = build_boot_config(
        public_key=public_key,
        key_name=cmd.keyname,
        password_hash=cmd.password_hash,
        user_data=cmd.user_data,
        byol=cmd.byol,
    )
    params = ReinstallParams(
        old_volume_id=system_disk.id,
        new_volume_id=new_uuid(),
        device=system_disk.device or "/dev/vda",
        size_gb=system_disk.size_gb,
        volume_type=system_disk.volume_type,
        image_id=image.id,
        cmk_id=cmd.encryption.cmk_id if cmd.encryption else None,
        key_name=cmd.keyname,
        original_vm_state=server.vm_state,
        original_fault=server.fault,
    )
    subs = tuple(
        SubJob(
            id=new_job_id(),
            job_id=job_id,
            seq=i,
            job_type=name,
            server_id=server.id,
            status=JobStatus.INIT,
        )
        for i, name in enumerate(
            step_names(
                stop_first=stop_first,
                stop_after=cmd.keep_power_state and server.vm_state is VmState.STOPPED,
            )
        )
    )
    job = Job(
        id=job_id,
        project_id=cmd.project_id,
        job_type=JobType.CHANGE_OS if cmd.change_os else JobType.REINSTALL,
        status=JobStatus.INIT,
        server_id=server.id,
        host_id=server.host_id,
        params=encode(params),
        created=clock.iso(),
        sub_jobs=subs,
    )
    claim = transitions.claimed(job_id, TaskState.REBUILDING, pending=boot)
    return JobPlan(job, (Claim(server, claim),))
