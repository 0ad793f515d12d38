"""The batch reboot job: one ``rebootServer`` sub-job per server; SOFT or HARD.

A reboot is a power-off (ACPI, or at once for HARD) followed by a boot with the server's
current cloud-init data, which is unchanged, so cloud-init does not run its first-boot
modules again. One server's failure does not stop the others; that server is powered off and
released SHUTOFF, so its recorded state is the guest's (a later start boots it).
"""

from __future__ import annotations

import logging

from ecslite.domain.server import TaskState, VmState
from ecslite.drivers.base import DriverError
from ecslite.jobs.steps import StepEnv, StepFailed, write_owned_server
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.reboot")

REBOOT = "rebootServer"


class RebootHandler:
    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        hard = bool(env.params.get("hard"))
        task = TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING
        write_owned_server(uow, env, {"task_state": task})

    def act(self, env: StepEnv) -> None:
        assert env.server is not None
        with env.uow_factory(write=False) as uow:
            boot = uow.servers.boot_config(env.server.id)
        env.driver.stop_server(env.server, hard=bool(env.params.get("hard")))
        env.driver.start_server(env.server, boot)

    def record(self, uow: UnitOfWork, env: StepEnv) -> None:
        write_owned_server(
            uow, env, {"vm_state": VmState.ACTIVE, "task_state": None, "current_job_id": None}
        )

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        assert env.server is not None
        values: dict[str, object] = {"task_state": None, "current_job_id": None}
        try:
            # Whether the guest went down before the failure is unknown: make it so, and say
            # so (SHUTOFF), rather than record a running guest that may not be.
            env.driver.stop_server(env.server, hard=True)
            values["vm_state"] = VmState.STOPPED
        except DriverError as exc:
            log.warning("reboot clean-up failed job_id=%s error=%s", env.job.id, exc.message)
        with env.uow_factory() as uow:
            write_owned_server(uow, env, values)
            uow.commit()
        return False
