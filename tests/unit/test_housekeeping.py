"""Finished jobs are kept for the retention period, then purged; running jobs never are."""

from __future__ import annotations

from pathlib import Path

from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, JobStatus, JobType
from ecslite.services.housekeeping import purge_expired


class FixedClock(Clock):
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def test_retention_purges_only_old_finished_jobs_and_tokens(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path))
    day = 86400.0
    t0 = 1_800_000_000.0
    jobs = {
        "old_done": (JobStatus.SUCCESS, t0),
        "old_running": (JobStatus.RUNNING, t0),
        "recent": (JobStatus.FAIL, t0 + 20 * day),
    }
    with container.uow_factory() as uow:
        for jid, (status, ended) in jobs.items():
            iso = FixedClock(ended).iso()
            uow.jobs.add(
                Job(
                    id=jid,
                    project_id="p",
                    job_type=JobType.BATCH_STOP,
                    status=status,
                    server_id=None,
                    params={},
                    created=iso,
                )
            )
            if status.terminal:
                uow.jobs.cas(jid, owner=None, expected={}, values={"end_time": iso})
        uow.client_tokens.add(
            project_id="p", token="old", fingerprint="f", job_id="old_done", now=t0
        )
        uow.client_tokens.add(
            project_id="p", token="new", fingerprint="f", job_id="recent", now=t0 + 30 * day
        )
        uow.commit()

    clock = FixedClock(t0 + 31 * day)
    assert purge_expired(
        uow_factory=container.uow_factory,
        clock=clock,
        job_retention_days=30,
        token_retention_hours=24 * 7,
    ) == (1, 1)
    with container.uow_factory(write=False) as uow:
        assert uow.jobs.get("old_done") is None
        assert uow.jobs.get("old_running") is not None
        assert uow.jobs.get("recent") is not None
        assert uow.client_tokens.get("p", "old") is None
        assert uow.client_tokens.get("p", "new") is not None
    container.close()
