"""The delete job: one ``deleteServer`` sub-job per server of the request.

Each sub-job powers the guest off, detaches every disk, deletes the system disk and — only
with ``delete_volume`` — the data disks (kept ones stay recorded, detached, ``available``),
then removes the server's ports and record. Every driver call is idempotent, so a resumed
sub-job repeats them harmlessly. A failure puts that server in ERROR with a fault, from which a
new delete is accepted; the other servers of the request are still deleted.
"""

from __future__ import annotations

from ecslite.domain.server import TaskState, VmState
from ecslite.jobs.steps import StepEnv, StepFailed, write_owned_server
from ecslite.store.uow import UnitOfWork

DELETE = "deleteServer"
DELETE_FAILED_FAULT = "delete_failed"


class DeleteHandler:
    def on_sub_job_start(self, uow: UnitOfWork, env: StepEnv) -> None:
        write_owned_server(uow, env, {"task_state": TaskState.DELETING})

    def act(self, env: StepEnv) -> None:
        server = env.server
        if server is None:
            return  # deleted by an earlier run of this step that crashed before recording it
        with env.uow_factory(write=False) as uow:
            volumes = uow.volumes.attached_to([server.id])[server.id]
        env.driver.stop_server(server, hard=True)
        for vol in volumes:
            env.driver.detach_disk(server, vol)
        for vol in volumes:
            if vol.is_system_disk or env.params.get("delete_volume"):
                env.driver.delete_disk(vol)

    def record(self, uow: UnitOfWork, env: StepEnv) -> None:
        server_id = env.sub.server_id
        assert server_id is not None
        for vol in uow.volumes.attached_to([server_id])[server_id]:
            if vol.is_system_disk or env.params.get("delete_volume"):
                uow.volumes.delete(vol.id)
            else:
                uow.volumes.set_attachment(vol.id, server_id=None, device=None, boot_index=None)
        uow.networks.delete_ports_of(server_id)
        uow.servers.delete_owned(server_id, job_id=env.job.id)

    def on_failure(self, env: StepEnv, error: StepFailed) -> bool:
        with env.uow_factory() as uow:
            if uow.servers.get(env.sub.server_id or "") is not None:
                write_owned_server(
                    uow,
                    env,
                    {
                        "vm_state": VmState.ERROR,
                        "task_state": None,
                        "current_job_id": None,
                        "fault": {
                            "code": DELETE_FAILED_FAULT,
                            "message": f"Deleting the ECS failed: {error.reason}",
                            "created": env.clock.iso(millis=False),
                            "job_id": env.job.id,
                        },
                    },
                )
            uow.commit()
        return False
