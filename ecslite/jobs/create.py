"""The create job: give each new server its disks, its cloud-init seed, and boot it.

Sub-jobs, per server in order: createSystemDisk → createDataDisks → attachDisks →
injectCloudInit → startServer → verifyCloudInit. The server records and their fixed IPs were
written when the request was accepted (status BUILD); each step records what it made, so a
resumed job skips finished steps and the idempotent driver calls make a repeated step harmless.

A failure rolls back every server of the request whose build had not finished (servers are
built one after the other; one that reached ACTIVE stays): it is powered off, its disks
detached and deleted, its ports and record removed, so nothing is orphaned. The job is FAIL
with the failing step's reason; a crash during the rollback resumes it.
"""

from __future__ import annotations

import logging
from typing import Any

from ecslite.domain.server import TaskState, VmState, Volume
from ecslite.drivers.base import DiskSpec
from ecslite.jobs.steps import StepEnv, StepFailed, write_owned_server
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.create")

CREATE_SYSTEM = "createSystemDisk"
CREATE_DATA = "createDataDisks"
ATTACH = "attachDisks"
INJECT = "injectCloudInit"
START = "startServer"
VERIFY = "verifyCloudInit"
SYSTEM_DEVICE = "/dev/vda"

_TASK_STATE = {
    CREATE_SYSTEM: TaskState.BLOCK_DEVICE_MAPPING,
    CREATE_DATA: TaskState.BLOCK_DEVICE_MAPPING,
    ATTACH: TaskState.BLOCK_DEVICE_MAPPING,
    INJECT: TaskState.SPAWNING,
    START: TaskState.SPAWNING,
    VERIFY: TaskState.SPAWNING,
}


def server_steps() -> list[str]:
    return [CREATE_SYSTEM, CREATE_DATA, ATTACH, INJECT, START, VERIFY]


def _volumes(env: StepEnv, server_id: str) -> tuple[Volume, list[tuple[Volume, str]]]:
    """The system disk and (data disk, device) pairs the job makes for ``server_id``."""
    spec: dict[str, Any] = env.params["servers"][server_id]
    now = env.clock.iso(millis=False)
    system = Volume(
        id=spec["system"]["id"],
        project_id=env.job.project_id,
        size_gb=spec["system"]["size_gb"],
        volume_type=spec["system"]["volume_type"],
        status="available",
        image_id=env.params["image_id"],
        created=now,
    )
    data = [
        (
            Volume(
                id=d["id"],
                project_id=env.job.project_id,
                size_gb=d["size_gb"],
                volume_type=d["volume_type"],
                status="available",
                created=now,
            ),
            d["device"],
        )
        for d in spec["data"]
    ]
    return system, data


class CreateHandler:
    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        write_owned_server(uow, env, {"task_state": _TASK_STATE[env.sub.job_type]})

    def act(self, env: StepEnv) -> None:
        server, name = env.server, env.sub.job_type
        assert server is not None
        system, data = _volumes(env, server.id)
        if name == CREATE_SYSTEM:
            with env.uow_factory(write=False) as uow:
                image = uow.catalog.image(env.params["image_id"])
            if image is None:
                raise StepFailed("Ecs.0031", "The image was deleted before the server was built.")
            env.driver.create_disk_from_image(DiskSpec(volume=system, image=image))
        elif name == CREATE_DATA:
            for vol, _ in data:
                env.driver.ensure_volume(vol, None)
        elif name == ATTACH:
            env.driver.attach_disk(server, system, device=SYSTEM_DEVICE, boot_index=0)
            for vol, device in data:
                env.driver.attach_disk(server, vol, device=device, boot_index=None)
        elif name in (INJECT, START):
            with env.uow_factory(write=False) as uow:
                boot = uow.servers.boot_config(server.id) or {}
            if name == INJECT:
                env.driver.write_seed(server, boot)
            else:
                env.driver.start_server(server, boot)
        elif name == VERIFY:
            env.driver.verify_boot(server)

    def record(self, uow: UnitOfWork, env: StepEnv) -> None:
        server_id, name = env.sub.server_id, env.sub.job_type
        assert server_id is not None
        system, data = _volumes(env, server_id)
        if name == CREATE_SYSTEM:
            uow.volumes.add(system)
        elif name == CREATE_DATA:
            for vol, _ in data:
                uow.volumes.add(vol)
        elif name == ATTACH:
            uow.volumes.set_attachment(
                system.id, server_id=server_id, device=SYSTEM_DEVICE, boot_index=0
            )
            for vol, device in data:
                uow.volumes.set_attachment(
                    vol.id, server_id=server_id, device=device, boot_index=None
                )
        elif name == START:
            write_owned_server(uow, env, {"vm_state": VmState.ACTIVE})
        elif name == VERIFY:
            write_owned_server(
                uow,
                env,
                {"vm_state": VmState.ACTIVE, "task_state": None, "current_job_id": None},
            )

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        """Remove every server of the job and everything made for it; stop the job."""
        for server_id in env.params["servers"]:
            self._remove(env, server_id)
        return True

    def _remove(self, env: StepEnv, server_id: str) -> None:
        with env.uow_factory(write=False) as uow:
            server = uow.servers.get(server_id)
        system, data = _volumes(env, server_id)
        if server is not None and server.current_job_id != env.job.id:
            return  # released ACTIVE by this job already: its build finished, it stays
        if server is not None:
            env.driver.stop_server(server, hard=True)
            for vol in [system, *(v for v, _ in data)]:
                env.driver.detach_disk(server, vol)
        for vol in [system, *(v for v, _ in data)]:
            env.driver.delete_disk(vol)
        with env.uow_factory() as uow:
            for vol in [system, *(v for v, _ in data)]:
                uow.volumes.delete(vol.id)
            uow.networks.delete_ports_of(server_id)
            uow.servers.delete_owned(server_id, job_id=env.job.id)
            uow.commit()
        log.info("create rolled back job_id=%s server_id=%s", env.job.id, server_id)
