"""Batch stop and start jobs: one sub-job per server; one server's failure does not stop the rest."""

from __future__ import annotations

from ecslite.domain.server import TaskState, VmState
from ecslite.jobs.steps import StepEnv, StepFailed, write_owned_server
from ecslite.store.uow import UnitOfWork

STOP = "stopServer"
START = "startServer"


class PowerHandler:
    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        task = TaskState.POWERING_OFF if env.sub.job_type == STOP else TaskState.POWERING_ON
        write_owned_server(uow, env, {"task_state": task})

    def act(self, env: StepEnv) -> None:
        assert env.server is not None
        if env.sub.job_type == STOP:
            if env.server.vm_state is not VmState.STOPPED:
                # HARD: power off at once (QEMU quit) instead of the ACPI button.
                env.driver.stop_server(env.server, hard=bool(env.params.get("hard")))
        else:
            with env.uow_factory(write=False) as uow:
                boot = uow.servers.boot_config(env.server.id)
            if env.server.vm_state is not VmState.ACTIVE:
                env.driver.start_server(env.server, boot)

    def record(self, uow: UnitOfWork, env: StepEnv) -> None:
        vm_state = VmState.STOPPED if env.sub.job_type == STOP else VmState.ACTIVE
        write_owned_server(
            uow, env, {"vm_state": vm_state, "task_state": None, "current_job_id": None}
        )

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        with env.uow_factory() as uow:
            write_owned_server(uow, env, {"task_state": None, "current_job_id": None})
            uow.commit()
        return False
