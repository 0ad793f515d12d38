"""When the rollback itself fails, the server ends in the reinstall-failed state with its old
disk retained (recorded, not orphaned), and a new reinstall is accepted and succeeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecslite.domain.errors import EcsError
from ecslite.domain.job import JobStatus
from ecslite.domain.server import Server, VmState, Volume
from ecslite.drivers.base import HostFailure
from ecslite.drivers.sim import SimDriver
from ecslite.jobs.runner import JobRunner
from ecslite.services.volumes import accept_delete_volume
from tests.unit.seeded import accept_stopped_reinstall, seeded


class BrokenAttachDriver(SimDriver):
    """Every attach fails: the forward step and the rollback's re-attach alike."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        self.calls.append(f"attach {volume.id}")
        raise HostFailure("storage backend unavailable")

    def detach_disk(self, server: Server, volume: Volume) -> None:
        self.calls.append(f"detach {volume.id}")

    def delete_disk(self, volume: Volume) -> None:
        self.calls.append(f"delete {volume.id}")


def _setup(tmp_path: Path, driver: SimDriver) -> tuple[Any, JobRunner, dict[str, Any]]:
    container, demo = seeded(tmp_path)
    runner = JobRunner(uow_factory=container.uow_factory, driver=driver, clock=container.clock)
    return container, runner, demo


def _run(container: Any, runner: JobRunner) -> None:
    with container.uow_factory() as uow:
        job_id = uow.jobs.claim_next(
            owner=runner.owner, now=container.clock.now(), lease_seconds=30
        )
        uow.commit()
    assert job_id is not None
    runner.run_job(job_id)


def test_failed_rollback_retains_old_disk_and_allows_retry(tmp_path: Path) -> None:
    driver = BrokenAttachDriver()
    container, runner, demo = _setup(tmp_path, driver)
    sid = demo["servers"]["stopped"]
    with container.uow_factory(write=False) as uow:
        old = uow.volumes.system_disk(sid)
    assert old is not None

    job_id = accept_stopped_reinstall(container, demo)
    _run(container, runner)

    with container.uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id)
        server = uow.servers.get(sid)
        retained = uow.volumes.get(old.id)
        attached = uow.volumes.attached_to([sid])[sid]
    assert job is not None and job.status is JobStatus.FAIL
    assert job.fail_reason == "storage backend unavailable"
    assert server is not None and server.reinstall_failed and server.vm_state is VmState.ERROR
    assert server.fault is not None and server.fault["retained_volume_id"] == old.id
    assert "Rolling back to the old system disk also failed" in server.fault["message"]
    assert retained is not None and retained.server_id is None  # kept, detached, recorded
    assert all(v.boot_index != 0 for v in attached)  # no system disk attached now
    assert f"attach {old.id}" in driver.calls  # the rollback did try to re-attach it
    # It shows available, but the next reinstall needs it: a volume delete is refused.
    assert retained.status == "available"
    with pytest.raises(EcsError) as refused:
        accept_delete_volume(
            project_id=demo["project_id"],
            volume_id=old.id,
            uow_factory=container.uow_factory,
            clock=container.clock,
        )
    assert refused.value.code == "EVS.1046" and "reinstall failed" in refused.value.message

    # The storage comes back: a retry from the reinstall-failed state succeeds and releases the
    # retained disk.
    healthy = SimDriver()
    runner2 = JobRunner(
        uow_factory=container.uow_factory,
        driver=healthy,
        clock=container.clock,
    )
    job2 = accept_stopped_reinstall(container, demo)
    _run(container, runner2)
    with container.uow_factory(write=False) as uow:
        done = uow.jobs.get(job2)
        server = uow.servers.get(sid)
        gone = uow.volumes.get(old.id)
        system = uow.volumes.system_disk(sid)
    assert done is not None and done.status is JobStatus.SUCCESS
    assert server is not None and server.vm_state is VmState.ACTIVE and server.fault is None
    assert gone is None and system is not None
    container.close()
