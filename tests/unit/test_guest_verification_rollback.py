"""A guest that fails verification is powered off at once and the server goes back to its old
disk and old cloud-init data; the driver sees exactly that sequence."""

from __future__ import annotations

from pathlib import Path

from ecslite.domain.boot import BootConfig
from ecslite.domain.job import JobStatus
from ecslite.domain.server import Server, VmState, Volume
from ecslite.drivers.base import BootNotVerified, GuestSize
from ecslite.drivers.sim import SimDriver
from tests.unit.seeded import accept_stopped_reinstall
from tests.unit.test_rollback_failure import _run, _setup


class GuestNeverFinishes(SimDriver):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def start_server(
        self, server: Server, boot_config: BootConfig | None, *, size: GuestSize | None
    ) -> None:
        self.calls.append("start")
        super().start_server(server, boot_config, size=size)  # the sim keeps the power state

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        self.calls.append("verify")
        raise BootNotVerified("cloud-init did not finish within 600 s")

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        self.calls.append(f"stop hard={hard}")
        super().stop_server(server, hard=hard)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        self.calls.append(f"attach {volume.id}")
        super().attach_disk(server, volume, device=device, boot_index=boot_index)

    def delete_disk(self, volume: Volume) -> None:
        self.calls.append(f"delete {volume.id}")

    def write_seed(self, server: Server, boot_config: BootConfig | None) -> None:
        self.calls.append("seed " + ("new" if boot_config and boot_config.password_hash else "old"))


def test_failed_verification_rolls_back_to_the_old_disk(tmp_path: Path) -> None:
    driver = GuestNeverFinishes()
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
        system = uow.volumes.system_disk(sid)
    assert job is not None and job.status is JobStatus.FAIL
    assert job.fail_reason == "cloud-init did not finish within 600 s"
    assert server is not None and server.vm_state is VmState.STOPPED and server.fault is None
    assert system is not None and system.id == old.id
    new_id = job.params["new_volume_id"]
    after_verify = driver.calls[driver.calls.index("verify") + 1 :]
    assert after_verify == ["stop hard=True", f"delete {new_id}", f"attach {old.id}", "seed old"]
    container.close()
