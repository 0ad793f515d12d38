"""The reinstall job: replace a server's system disk with a new one made from its image.

Steps (sub-jobs, in order): [stopServer] → detachSystemDisk → createSystemDisk →
attachSystemDisk → [injectCredentials] → injectCloudInit → startServer → verifyCloudInit |
verifyLoginPrompt → deleteOldSystemDisk [→ stopRebuiltServer]. An image without cloud-init
(the v1 API) gets its password hash or key written into the new disk offline
(``injectCredentials``) and is verified by its console's login prompt instead of cloud-init's
report. The last step exists only for a Nova rebuild of a SHUTOFF server, which
(as in Nova) boots and verifies the new system, then leaves the server SHUTOFF as it found it.
The job's ``image_id`` may differ from the server's (a rebuild or change of OS with another
image); the server takes it on when the new system is in place.

The old system disk is kept until the guest has booted the new one and its cloud-init reported
it finished (``verifyCloudInit``; a no-op for the sim driver). A failure before
``deleteOldSystemDisk`` rolls back: the guest is stopped if it was started, the new disk is
removed, the old one re-attached and its seed restored, so the server is back on its old disk
(SHUTOFF, data intact). Only a rollback that itself fails leaves the server in the
reinstall-failed state (ERROR, old disk retained and recorded), from which a new reinstall is
accepted. If deleting the old disk fails, the server runs its verified new system; the old
disk stays recorded (detached) so nothing is orphaned, and the job reports FAIL with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ecslite.domain import errors, transitions
from ecslite.domain.codec import decoder
from ecslite.domain.host import DEFAULT_HOST
from ecslite.domain.job import JobType
from ecslite.domain.reinstall import ReinstallParams
from ecslite.domain.server import REINSTALL_FAILED_FAULT, TaskState, VmState, Volume
from ecslite.drivers.base import DiskSpec, DriverError, GuestCredentials, GuestSize
from ecslite.jobs.steps import FailurePolicy, JobDefinition, Step, StepContext, StepFailed
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.reinstall")

STOP = "stopServer"
DETACH = "detachSystemDisk"
CREATE = "createSystemDisk"
ATTACH = "attachSystemDisk"
INJECT_OFFLINE = "injectCredentials"
INJECT = "injectCloudInit"
START = "startServer"
VERIFY = "verifyCloudInit"
VERIFY_LOGIN = "verifyLoginPrompt"
DELETE_OLD = "deleteOldSystemDisk"
STOP_AFTER = "stopRebuiltServer"

Ctx = StepContext[ReinstallParams]


def step_names(*, stop_first: bool, stop_after: bool = False, offline: bool = False) -> list[str]:
    skip = ({STOP} if not stop_first else set()) | ({STOP_AFTER} if not stop_after else set())
    skip |= {VERIFY} if offline else {INJECT_OFFLINE, VERIFY_LOGIN}
    return [s.name for s in DEFINITION.steps if s.name not in skip]


def _new_volume(ctx: Ctx) -> Volume:
    p = ctx.params
    return Volume(
        id=p.new_volume_id,
        project_id=ctx.job.project_id,
        size_gb=p.size_gb,
        volume_type=p.volume_type,
        status="available",
        image_id=p.image_id,
        encrypted=p.encrypted,
        cmk_id=p.cmk_id,
        created=ctx.clock.iso(millis=False),
        host_id=ctx.server.host_id if ctx.server is not None else DEFAULT_HOST,
    )


def _server(ctx: Ctx) -> Any:
    assert ctx.server is not None
    return ctx.server


# -- acts: driver work, idempotent; each reads only what it acts on ---------------------------


def _stop(ctx: Ctx) -> None:
    ctx.driver.stop_server(_server(ctx))


def _detach(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        old = uow.volumes.get(ctx.params.old_volume_id)
    if _server(ctx).vm_state is VmState.ERROR:
        # A server in ERROR (a failed job, a host that came back) may still have a guest
        # running on its host: the reinstall replacing its disk powers it off first.
        ctx.driver.stop_server(_server(ctx), hard=True)
    if old is not None and old.server_id == ctx.server_id:
        ctx.driver.detach_disk(_server(ctx), old)


def _create(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        image = uow.catalog.image(ctx.params.image_id)
    if image is None:
        raise StepFailed(errors.IMAGE_NOT_FOUND.code, "The server's image no longer exists.")
    ctx.driver.create_disk_from_image(DiskSpec(volume=_new_volume(ctx), image=image))


def _attach(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        new = uow.volumes.get(ctx.params.new_volume_id)
    vol = new or _new_volume(ctx)
    ctx.driver.attach_disk(_server(ctx), vol, device=ctx.params.device, boot_index=0)


def _inject_offline(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        pending = uow.servers.boot_config(ctx.server_id, pending=True)
        new = uow.volumes.get(ctx.params.new_volume_id)
    if pending is None or (pending.password_hash is None and not pending.public_keys):
        raise StepFailed(
            errors.INVALID_PARAMETER.code, "No password or key pair to write into the new disk."
        )
    creds = GuestCredentials(
        user="root", password_hash=pending.password_hash, public_keys=pending.public_keys
    )
    ctx.driver.inject_credentials(new or _new_volume(ctx), creds)


def _inject(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        pending = uow.servers.boot_config(ctx.server_id, pending=True)
    ctx.driver.write_seed(_server(ctx), pending)


def _start(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        pending = uow.servers.boot_config(ctx.server_id, pending=True)
        flavor = uow.flavors.get(_server(ctx).flavor_id)
    ctx.driver.start_server(_server(ctx), pending, size=GuestSize.of(flavor))


def _verify(ctx: Ctx) -> None:
    ctx.driver.verify_boot(_server(ctx))


def _verify_login(ctx: Ctx) -> None:
    ctx.driver.verify_login_prompt(_server(ctx))


def _delete_old(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        old = uow.volumes.get(ctx.params.old_volume_id)
    if old is not None:
        ctx.driver.delete_disk(old)


# -- records: the writes each step's success implies -------------------------------------------


def _stopped(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.powered(VmState.STOPPED))


def _detached(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.set_attachment(
        ctx.params.old_volume_id, server_id=None, device=None, boot_index=None
    )


def _created(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.add(_new_volume(ctx))


def _attached(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.set_attachment(
        ctx.params.new_volume_id, server_id=ctx.server_id, device=ctx.params.device, boot_index=0
    )


def _started(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.powered(VmState.ACTIVE))


def _in_place(ctx: Ctx, vm_state: VmState = VmState.ACTIVE) -> transitions.ServerChange:
    return transitions.reinstalled(ctx.params.key_name, ctx.params.image_id, vm_state)


def _stops_after(ctx: Ctx) -> bool:
    return any(s.job_type == STOP_AFTER for s in ctx.job.sub_jobs)


def _old_deleted(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.delete(ctx.params.old_volume_id)
    if not _stops_after(ctx):
        ctx.change_server(uow, _in_place(ctx))


def _stopped_after(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, _in_place(ctx, VmState.STOPPED))


# -- failure ------------------------------------------------------------------------------------


def roll_back(ctx: Ctx, error: StepFailed, done: frozenset[str]) -> None:
    """Put the server back on its old disk; idempotent, so a crash mid-rollback resumes it."""
    if ctx.sub.job_type in (DELETE_OLD, STOP_AFTER):
        # The new system is verified and running; only the clean-up (or the final stop)
        # failed. Keep the old disk recorded (detached) so it is not orphaned, and say so in
        # the job.
        with ctx.uow_factory() as uow:
            ctx.change_server(uow, _in_place(ctx))
            uow.commit()
        return
    planned = {s.job_type for s in ctx.job.sub_jobs}
    try:
        if START in done or ctx.sub.job_type in (START, VERIFY, VERIFY_LOGIN):
            # The guest runs the new disk, which is about to be discarded: no need to wait
            # for an orderly shutdown (a guest still booting ignores the ACPI button).
            ctx.driver.stop_server(_server(ctx), hard=True)
        _restore_old_disk(ctx, stop_done=STOP in done or STOP not in planned, seeded=INJECT in done)
    except DriverError as exc:
        log.warning("rollback failed job_id=%s error=%s", ctx.job.id, exc.message)
        fault: dict[str, Any] = {
            "code": REINSTALL_FAILED_FAULT,
            "message": "OS reinstallation failed: "
            f"{error.reason} Rolling back to the old system disk also failed: {exc.message}",
            "created": ctx.clock.iso(millis=False),
            "job_id": ctx.job.id,
            "retained_volume_id": ctx.params.old_volume_id,
        }
        with ctx.uow_factory() as uow:
            ctx.change_server(uow, transitions.reinstall_failed(fault))
            uow.commit()


def _restore_old_disk(ctx: Ctx, *, stop_done: bool, seeded: bool) -> None:
    server, p = _server(ctx), ctx.params
    with ctx.uow_factory(write=False) as uow:
        new = uow.volumes.get(p.new_volume_id)
        old = uow.volumes.get(p.old_volume_id)
        boot = uow.servers.boot_config(server.id)
    if new is not None and new.server_id == server.id:
        ctx.driver.detach_disk(server, new)
    ctx.driver.delete_disk(new or _new_volume(ctx))
    with ctx.uow_factory() as uow:
        uow.volumes.delete(p.new_volume_id)
        uow.commit()
    if old is not None and old.server_id != server.id:
        ctx.driver.attach_disk(server, old, device=p.device, boot_index=0)
    if seeded:
        # Put back the old disk's seed (or none), so its next boot is not a new instance.
        ctx.driver.write_seed(server, boot)
    original = p.original_vm_state
    restored = original if (original is VmState.ERROR or not stop_done) else VmState.STOPPED
    with ctx.uow_factory() as uow:
        if old is not None:
            uow.volumes.set_attachment(old.id, server_id=server.id, device=p.device, boot_index=0)
        ctx.change_server(uow, transitions.rolled_back(restored, p.original_fault))
        uow.commit()


DEFINITION = JobDefinition(
    job_type=JobType.REINSTALL,
    steps=(
        Step(STOP, _stop, TaskState.REBUILDING, record=_stopped),
        Step(DETACH, _detach, TaskState.REBUILDING, record=_detached),
        Step(CREATE, _create, TaskState.REBUILD_BLOCK_DEVICE_MAPPING, record=_created),
        Step(ATTACH, _attach, TaskState.REBUILD_BLOCK_DEVICE_MAPPING, record=_attached),
        Step(INJECT_OFFLINE, _inject_offline, TaskState.REBUILD_SPAWNING),
        Step(INJECT, _inject, TaskState.REBUILD_SPAWNING),
        Step(START, _start, TaskState.REBUILD_SPAWNING, record=_started),
        Step(VERIFY, _verify, TaskState.REBUILD_SPAWNING),
        Step(VERIFY_LOGIN, _verify_login, TaskState.REBUILD_SPAWNING),
        Step(
            DELETE_OLD,
            _delete_old,
            TaskState.REBUILD_SPAWNING,
            record=_old_deleted,
            no_return=True,
        ),
        Step(STOP_AFTER, _stop, TaskState.REBUILD_SPAWNING, record=_stopped_after),
    ),
    policy=FailurePolicy.ROLL_BACK,
    parse_params=decoder(ReinstallParams),
    roll_back=roll_back,
    # The old disk is detached (available) while the job runs and its rollback re-attaches it.
    held_volumes=lambda p: frozenset({p.old_volume_id, p.new_volume_id}),
)
# Changing the OS is a reinstall from another image (``ReinstallParams.image_id``): the same
# steps, rollback and guarantees; only the job's type differs, as the ECS API reports it.
CHANGE_OS_DEFINITION = replace(DEFINITION, job_type=JobType.CHANGE_OS)
