"""A claimed job starts in the claim's own transaction; when its server turns out to belong to
another job, the job stays leased as a bare claim leaves it, so no runner claims it again before
the lease runs out (instead of at every poll)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from ecslite.bootstrap import Container
from ecslite.domain.job import JobStatus
from ecslite.drivers.sim import SimDriver
from ecslite.jobs.runner import JobRunner
from ecslite.store import tables as t
from tests.unit.seeded import accept_stopped_reinstall, seeded


def _setup(tmp_path: Path) -> tuple[Container, JobRunner, str, str]:
    container, demo = seeded(tmp_path)
    runner = JobRunner(
        uow_factory=container.uow_factory,
        driver=SimDriver(),
        clock=container.clock,
        threads=1,
        lease_seconds=60,
    )
    server_id = demo["servers"]["stopped"]
    job_id = accept_stopped_reinstall(container, demo)
    return container, runner, job_id, server_id


def test_a_claimed_job_runs_to_success_with_every_step_recorded(tmp_path: Path) -> None:
    container, runner, job_id, _ = _setup(tmp_path)
    assert runner.run_next()
    with container.uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id)
        lease = uow.conn.execute(
            select(t.jobs.c.lease_owner).where(t.jobs.c.id == job_id)
        ).scalar_one()
    assert job is not None and job.status is JobStatus.SUCCESS
    assert job.begin_time is not None and job.end_time is not None
    assert all(s.status is JobStatus.SUCCESS and s.begin_time for s in job.sub_jobs)
    assert lease is None
    assert not runner.run_next()  # nothing left to claim


def test_a_job_whose_server_is_another_jobs_stays_leased_not_started(tmp_path: Path) -> None:
    container, runner, job_id, server_id = _setup(tmp_path)
    with container.uow_factory() as uow:
        uow.conn.execute(
            update(t.servers).where(t.servers.c.id == server_id).values(current_job_id="other")
        )
        uow.commit()
    assert not runner.run_next()
    with container.uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id)
        owner, expires = uow.conn.execute(
            select(t.jobs.c.lease_owner, t.jobs.c.lease_expires).where(t.jobs.c.id == job_id)
        ).one()
    assert job is not None and job.status is JobStatus.INIT  # its start was not recorded
    assert [s.status for s in job.sub_jobs] == [JobStatus.INIT] * len(job.sub_jobs)
    assert owner is not None and owner.startswith(runner.owner)
    assert expires > container.clock.now() + 30
    assert not runner.run_next()  # leased: not claimed again before the lease runs out
