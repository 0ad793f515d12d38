"""Accept a reinstall: check every rule, then mark the server and create the job atomically."""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.cloudinit.payload import build_boot_config
from ecslite.domain import errors
from ecslite.domain.clock import Clock, new_job_id, new_uuid
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.reinstall import Encryption
from ecslite.domain.server import TaskState, VmState
from ecslite.jobs.reinstall import step_names
from ecslite.services.idempotency import ClientToken, accept_once, remember, replay
from ecslite.store.uow import UowFactory


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
    # Change OS: install this image instead of the server's own (same steps and rules, plus
    # the new image's checks). None: reinstall the server's image.
    image_id: str | None = None


def accept_reinstall(cmd: ReinstallCommand, *, uow_factory: UowFactory, clock: Clock) -> str:
    """Return the id of a new reinstall job, or of the one this request's client token made."""
    return accept_once(
        uow_factory, cmd.project_id, cmd.client_token, lambda: _accept(cmd, uow_factory, clock)
    )


def _accept(cmd: ReinstallCommand, uow_factory: UowFactory, clock: Clock) -> str:
    """Return the id of a new reinstall job.

    Post: the server is in REBUILD (task_state ``rebuilding``) owned by the job, and the job
    with its sub-jobs exists, both from one transaction; or an ``EcsError`` and nothing changed.
    """
    with uow_factory() as uow:
        earlier = replay(uow, cmd.project_id, cmd.client_token)
        if earlier is not None:
            return earlier
        server = uow.servers.get(cmd.server_id, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        image = uow.catalog.image(cmd.image_id or server.image_id)
        if image is None or image.project_id not in (None, cmd.project_id):
            raise errors.EcsError(
                errors.IMAGE_NOT_FOUND,
                "The server's original image was deleted." if cmd.image_id is None else None,
            )
        if not image.active:
            raise errors.EcsError(errors.IMAGE_NOT_ACTIVE)
        if not image.cloud_init:
            raise errors.EcsError(
                errors.INVALID_IMAGE,
                "The server's image has no Cloud-Init or Cloudbase-Init installed; "
                "reinstall it with the API for images without Cloud-Init.",
            )
        if server.busy:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE,
                f"Another operation ({server.task_state}) is in progress on this ECS.",
            )
        stop_first = cmd.stop_first and server.vm_state is VmState.ACTIVE
        if not (server.vm_state is VmState.STOPPED or server.reinstall_failed or stop_first):
            raise errors.EcsError(
                errors.BAD_SERVER_STATE,
                f'The ECS is {server.status}; stop it first, or pass "mode": "withStopServer".',
            )
        system_disk = uow.volumes.system_disk(server.id)
        if system_disk is None and server.reinstall_failed and server.fault:
            retained = server.fault.get("retained_volume_id")
            system_disk = uow.volumes.get(retained) if retained else None
        if system_disk is None:
            raise errors.EcsError(errors.NO_SYSTEM_DISK)
        if system_disk.size_gb < image.min_disk_gb:
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                f"The system disk ({system_disk.size_gb} GB) is smaller than the image's "
                f"minimum disk ({image.min_disk_gb} GB).",
            )

        public_key = None
        if cmd.keyname is not None:
            project = uow.catalog.project(cmd.project_id)
            user = uow.catalog.user(cmd.userid or "")
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

        job_id = new_job_id()
        boot = build_boot_config(
            public_key=public_key,
            key_name=cmd.keyname,
            password_hash=cmd.password_hash,
            user_data=cmd.user_data,
            byol=cmd.byol,
        )
        accepted = uow.servers.cas(
            server.id,
            expected={"task_state": None, "version": server.version},
            values={
                "task_state": TaskState.REBUILDING,
                "current_job_id": job_id,
                "pending_boot_config": boot,
                "updated": clock.iso(millis=False),
            },
        )
        if not accepted:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE, "Another operation started on this ECS at the same time."
            )
        params = {
            "old_volume_id": system_disk.id,
            "new_volume_id": new_uuid(),
            "device": system_disk.device or "/dev/vda",
            "size_gb": system_disk.size_gb,
            "volume_type": system_disk.volume_type,
            "image_id": image.id,
            "encrypted": cmd.encryption is not None,
            "cmk_id": cmd.encryption.cmk_id if cmd.encryption else None,
            "key_name": cmd.keyname,
            "original_vm_state": server.vm_state.value,
            "original_fault": server.fault,
        }
        subs = tuple(
            SubJob(
                id=new_job_id(),
                job_id=job_id,
                seq=i,
                job_type=name,
                server_id=server.id,
                status=JobStatus.INIT,
            )
            for i, name in enumerate(step_names(stop_first=stop_first))
        )
        uow.jobs.add(
            Job(
                id=job_id,
                project_id=cmd.project_id,
                job_type=JobType.REINSTALL if cmd.image_id is None else JobType.CHANGE_OS,
                status=JobStatus.INIT,
                server_id=server.id,
                host_id=server.host_id,
                params=params,
                created=clock.iso(),
                sub_jobs=subs,
            )
        )
        remember(uow, cmd.project_id, cmd.client_token, job_id, clock.now())
        uow.commit()
    return job_id
