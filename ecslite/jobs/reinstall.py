"""The reinstall job: replace a server's system disk with a new one made from its image.

Steps (sub-jobs, in order): [stopServer] → detachSystemDisk → createSystemDisk →
attachSystemDisk → injectCloudInit → startServer → verifyCloudInit → deleteOldSystemDisk.

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
from typing import Any

from ecslite.domain.job import JobStatus
from ecslite.domain.server import REINSTALL_FAILED_FAULT, TaskState, VmState, Volume
from ecslite.drivers.base import DiskSpec, DriverError
from ecslite.jobs.steps import StepEnv, StepFailed, write_owned_server
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.reinstall")

STOP = "stopServer"
DETACH = "detachSystemDisk"
CREATE = "createSystemDisk"
ATTACH = "attachSystemDisk"
INJECT = "injectCloudInit"
DELETE_OLD = "deleteOldSystemDisk"
START = "startServer"
VERIFY = "verifyCloudInit"

STEP_TASK_STATE = {
    STOP: TaskState.REBUILDING,
    DETACH: TaskState.REBUILDING,
    CREATE: TaskState.REBUILD_BLOCK_DEVICE_MAPPING,
    ATTACH: TaskState.REBUILD_BLOCK_DEVICE_MAPPING,
    INJECT: TaskState.REBUILD_SPAWNING,
    DELETE_OLD: TaskState.REBUILD_SPAWNING,
    START: TaskState.REBUILD_SPAWNING,
    VERIFY: TaskState.REBUILD_SPAWNING,
}
# From this step on the new system is verified: a failure no longer puts the old disk back.
POINT_OF_NO_RETURN = DELETE_OLD


def step_names(*, stop_first: bool) -> list[str]:
    steps = [DETACH, CREATE, ATTACH, INJECT, START, VERIFY, DELETE_OLD]
    return [STOP, *steps] if stop_first else steps


def _new_volume(env: StepEnv) -> Volume:
    p = env.params
    return Volume(
        id=p["new_volume_id"],
        project_id=env.job.project_id,
        size_gb=p["size_gb"],
        volume_type=p["volume_type"],
        status="available",
        image_id=p["image_id"],
        encrypted=p["encrypted"],
        cmk_id=p["cmk_id"],
        created=env.clock.iso(millis=False),
    )


def _finalize(uow: UnitOfWork, env: StepEnv) -> None:
    """Release the server on its new system: ACTIVE, new boot config, no fault."""
    server_id = env.job.server_id
    assert server_id is not None
    pending = uow.servers.boot_config(server_id, pending=True)
    write_owned_server(
        uow,
        env,
        {
            "vm_state": VmState.ACTIVE,
            "task_state": None,
            "current_job_id": None,
            "fault": None,
            "boot_config": pending,
            "pending_boot_config": None,
            "key_name": env.params.get("key_name"),
            # A change of OS installs another image: the server now runs that one.
            "image_id": env.params["image_id"],
        },
    )


class ReinstallHandler:
    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        write_owned_server(uow, env, {"task_state": STEP_TASK_STATE[env.sub.job_type]})

    def act(self, env: StepEnv) -> None:
        server, p, name = env.server, env.params, env.sub.job_type
        assert server is not None
        if name == STOP:
            env.driver.stop_server(server)
            return
        # Each step reads only what it acts on: the step count multiplies every statement.
        old = new = image = pending = None
        with env.uow_factory(write=False) as uow:
            if name in (DETACH, DELETE_OLD):
                old = uow.volumes.get(p["old_volume_id"])
            elif name == CREATE:
                image = uow.catalog.image(p["image_id"])
            elif name == ATTACH:
                new = uow.volumes.get(p["new_volume_id"])
            elif name in (INJECT, START):
                pending = uow.servers.boot_config(server.id, pending=True)
        if name == DETACH:
            if old is not None and old.server_id == server.id:
                env.driver.detach_disk(server, old)
        elif name == CREATE:
            if image is None:
                raise StepFailed("Ecs.0031", "The server's image no longer exists.")
            env.driver.create_disk_from_image(DiskSpec(volume=_new_volume(env), image=image))
        elif name == ATTACH:
            vol = new or _new_volume(env)
            env.driver.attach_disk(server, vol, device=p["device"], boot_index=0)
        elif name == INJECT:
            env.driver.write_seed(server, pending or {})
        elif name == START:
            env.driver.start_server(server, pending)
        elif name == VERIFY:
            env.driver.verify_boot(server)
        elif name == DELETE_OLD and old is not None:
            env.driver.delete_disk(old)

    def record(self, uow: UnitOfWork, env: StepEnv) -> None:
        p, name = env.params, env.sub.job_type
        server_id = env.job.server_id
        if name == STOP:
            write_owned_server(uow, env, {"vm_state": VmState.STOPPED})
        elif name == DETACH:
            uow.volumes.set_attachment(
                p["old_volume_id"], server_id=None, device=None, boot_index=None
            )
        elif name == CREATE:
            uow.volumes.add(_new_volume(env))
        elif name == ATTACH:
            uow.volumes.set_attachment(
                p["new_volume_id"], server_id=server_id, device=p["device"], boot_index=0
            )
        elif name == START:
            write_owned_server(uow, env, {"vm_state": VmState.ACTIVE})
        elif name == DELETE_OLD:
            uow.volumes.delete(p["old_volume_id"])
            _finalize(uow, env)

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        done = {s.job_type for s in env.job.sub_jobs if s.status is JobStatus.SUCCESS}
        if env.sub.job_type == DELETE_OLD:
            # The new system is verified and running; only the clean-up failed. Keep the old
            # disk recorded (detached) so it is not orphaned, and say so in the job.
            with env.uow_factory() as uow:
                _finalize(uow, env)
                uow.commit()
            return True
        try:
            if START in done or env.sub.job_type in (START, VERIFY):
                # The guest runs the new disk, which is about to be discarded: no need to wait
                # for an orderly shutdown (a guest still booting ignores the ACPI button).
                assert env.server is not None
                env.driver.stop_server(env.server, hard=True)
            self._roll_back(
                env,
                stop_done=STOP in done or STOP not in {s.job_type for s in env.job.sub_jobs},
                seeded=INJECT in done,
            )
        except DriverError as exc:
            log.warning("rollback failed job_id=%s error=%s", env.job.id, exc.message)
            self._mark_failed(
                env,
                f"{error.reason} Rolling back to the old system disk also failed: {exc.message}",
                retained=env.params["old_volume_id"],
            )
        return True

    def _roll_back(self, env: StepEnv, *, stop_done: bool, seeded: bool) -> None:
        server, p = env.server, env.params
        assert server is not None
        with env.uow_factory(write=False) as uow:
            new = uow.volumes.get(p["new_volume_id"])
            old = uow.volumes.get(p["old_volume_id"])
            boot = uow.servers.boot_config(server.id)
        if new is not None and new.server_id == server.id:
            env.driver.detach_disk(server, new)
        env.driver.delete_disk(new or _new_volume(env))
        with env.uow_factory() as uow:
            uow.volumes.delete(p["new_volume_id"])
            uow.commit()
        if old is not None and old.server_id != server.id:
            env.driver.attach_disk(server, old, device=p["device"], boot_index=0)
        if seeded:
            # Put back the old disk's seed (or none), so its next boot is not a new instance.
            env.driver.write_seed(server, boot or {})
        original = VmState(p["original_vm_state"])
        restored = original if (original is VmState.ERROR or not stop_done) else VmState.STOPPED
        with env.uow_factory() as uow:
            if old is not None:
                uow.volumes.set_attachment(
                    old.id, server_id=server.id, device=p["device"], boot_index=0
                )
            write_owned_server(
                uow,
                env,
                {
                    "vm_state": restored,
                    "task_state": None,
                    "current_job_id": None,
                    "pending_boot_config": None,
                    "fault": p.get("original_fault"),
                },
            )
            uow.commit()

    def _mark_failed(self, env: StepEnv, reason: str, *, retained: str | None) -> None:
        fault: dict[str, Any] = {
            "code": REINSTALL_FAILED_FAULT,
            "message": f"OS reinstallation failed: {reason}",
            "created": env.clock.iso(millis=False),
            "job_id": env.job.id,
        }
        if retained is not None:
            fault["retained_volume_id"] = retained
        with env.uow_factory() as uow:
            write_owned_server(
                uow,
                env,
                {
                    "vm_state": VmState.ERROR,
                    "task_state": None,
                    "current_job_id": None,
                    "pending_boot_config": None,
                    "fault": fault,
                },
            )
            uow.commit()
