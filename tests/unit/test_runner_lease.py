"""A run whose lease ran out stops at its next step boundary, even when the thread that claims
the job again belongs to the same worker: each claim holds a lease of its own, so two threads of
one process never both record a job's steps (seen under load as a reinstall whose last steps
were recorded by one run and overwritten by the other)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import update

from ecslite.domain.job import JobStatus
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import DiskSpec
from ecslite.drivers.sim import SimDriver
from ecslite.jobs.runner import JobRunner
from ecslite.store import tables as t
from tests.support import poll
from tests.unit.seeded import accept_stopped_reinstall, seeded


class GatedDriver(SimDriver):
    """The first disk creation waits for ``release``; the first attach waits for ``release``
    too, so the second run is held inside its attach while the first run is let go."""

    def __init__(self) -> None:
        super().__init__()
        self.release_create = threading.Event()
        self.release_attach = threading.Event()
        self.in_create = threading.Event()
        self.in_attach = threading.Event()
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        with self._lock:
            self.calls.append("create")
            first = self.calls.count("create") == 1
        if first:
            self.in_create.set()
            assert self.release_create.wait(30)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        with self._lock:
            self.calls.append("attach")
            first = self.calls.count("attach") == 1
        if first:
            self.in_attach.set()
            assert self.release_attach.wait(30)
        super().attach_disk(server, volume, device=device, boot_index=boot_index)


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord], needle: str) -> None:
        super().__init__(logging.WARNING)
        self._into = into
        self._needle = needle

    def emit(self, record: logging.LogRecord) -> None:
        if self._needle in record.getMessage():
            self._into.append(record)


def test_a_run_that_lost_its_lease_to_its_own_worker_stops_at_the_next_boundary(
    tmp_path: Path,
) -> None:
    container, demo = seeded(tmp_path)
    driver = GatedDriver()
    # A long lease: the heartbeat does not renew it during the test; the test ends it by hand,
    # as a starved heartbeat would let it run out.
    runner = JobRunner(
        uow_factory=container.uow_factory,
        driver=driver,
        clock=container.clock,
        threads=2,
        lease_seconds=60,
        poll_interval=0.02,
    )
    job_id = accept_stopped_reinstall(container, demo)
    lost: list[logging.LogRecord] = []
    watch = _Collect(lost, "lost its lease")
    logging.getLogger("ecslite.jobs").addHandler(watch)
    runner.start()
    try:
        assert driver.in_create.wait(10)  # the first run is inside createSystemDisk
        with container.uow_factory() as uow:
            uow.conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(lease_expires=0.0))
            uow.commit()
        # The other thread claims the job, re-runs createSystemDisk and is held in its attach.
        assert driver.in_attach.wait(10)
        driver.release_create.set()  # the first run finishes its step and meets a boundary
        poll(lambda: lost, until=lambda records: len(records) >= 1, timeout=10)
        driver.release_attach.set()

        def status() -> JobStatus | None:
            with container.uow_factory(write=False) as uow:
                job = uow.jobs.get(job_id)
            return job.status if job else None

        poll(status, until=lambda s: s is not None and s.terminal, timeout=20)
        with container.uow_factory(write=False) as uow:
            job = uow.jobs.get(job_id)
        assert job is not None and job.status is JobStatus.SUCCESS
        assert [s.status for s in job.sub_jobs] == [JobStatus.SUCCESS] * len(job.sub_jobs)
        # The first run went no further than the step it was in: the attach ran once, by the
        # run that holds the lease now.
        assert driver.calls.count("create") == 2
        assert driver.calls.count("attach") == 1
    finally:
        driver.release_create.set()
        driver.release_attach.set()
        runner.stop()
        logging.getLogger("ecslite.jobs").removeHandler(watch)
