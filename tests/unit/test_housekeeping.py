"""Finished jobs are kept for the retention period, then purged; running jobs never are."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.domain.job import Job, JobStatus, JobType
from ecslite.services.housekeeping import purge_expired
from ecslite.store import tables as t


class FixedClock(Clock):
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def test_retention_purges_only_old_finished_jobs_and_tokens(
    tmp_path: Path, database_url: str
) -> None:
    container = build(
        Settings(data_dir=tmp_path / "data", database_url=database_url), upgrade_schema=True
    )
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
        # Two events per job, and job-less events: one older than the retention, one recent.
        rows: list[dict[str, object]] = [
            {
                "project_id": "p",
                "kind": "job",
                "job_id": jid,
                "server_id": None,
                "payload": "{}",
                "created_at": t0,
            }
            for jid in jobs
            for _ in range(2)
        ]
        rows += [
            {
                "project_id": "p",
                "kind": "server",
                "job_id": None,
                "server_id": "s",
                "payload": "{}",
                "created_at": at,
            }
            for at in (t0, t0 + 30 * day)
        ]
        uow.events.append(rows)
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
        batch=1,  # one job per transaction: the loop goes on until a batch comes back short
    ) == (1, 1)
    with container.uow_factory(write=False) as uow:
        assert uow.jobs.get("old_done") is None
        assert uow.jobs.get("old_running") is not None
        assert uow.jobs.get("recent") is not None
        assert uow.client_tokens.get("p", "old") is None
        assert uow.client_tokens.get("p", "new") is not None
        kept = [
            tuple(r) for r in uow.conn.execute(select(t.events.c.job_id, t.events.c.created_at))
        ]
    # The purged job's events went with it, the kept jobs' stayed; of the job-less events only
    # the one within the retention is left. (Recording the jobs' writes added events too.)
    assert {j for j, _ in kept} == {"old_running", "recent", None}
    assert [at for j, at in kept if j is None] == [t0 + 30 * day]
    assert sum(1 for j, at in kept if j == "recent" and at == t0) == 2
    container.close()


def test_purge_statements_are_cancelled_after_the_timeout(
    tmp_path: Path, database_url: str
) -> None:
    """On PostgreSQL a purge transaction's statements are cancelled past the timeout (SQLite,
    one writer and no such setting, runs them to the end)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a statement timeout is a PostgreSQL setting (PostgreSQL pass)")
    container = build(
        Settings(data_dir=tmp_path / "data", database_url=database_url), upgrade_schema=True
    )
    try:
        with container.uow_factory() as uow:
            uow.limit_statements(0.05)
            with pytest.raises(OperationalError, match="statement timeout"):
                uow.conn.execute(text("SELECT pg_sleep(2)"))
        # Only that transaction: the next one has no limit.
        with container.uow_factory() as uow:
            uow.conn.execute(text("SELECT pg_sleep(0.1)"))
    finally:
        container.close()
