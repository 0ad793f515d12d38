"""Bound the tables that grow with use: finished jobs, their events, idempotency tokens.

Runs every few minutes in every runner process, on a store that may hold hundreds of
thousands of jobs and events: every statement reads only what it deletes, through an index
(expired jobs go in batches, each with its sub-jobs and events, found by job id; never a scan
of all events against all jobs), each batch is its own transaction, and on PostgreSQL no
statement may run longer than the timeout, so a purge never holds locks for long and a slow
one is cancelled and resumed by the next run rather than piling up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ecslite.domain.clock import Clock
from ecslite.store.uow import UowFactory

log = logging.getLogger("ecslite.housekeeping")


def purge_expired(
    *,
    uow_factory: UowFactory,
    clock: Clock,
    job_retention_days: float,
    token_retention_hours: float,
    batch: int = 5000,
    statement_timeout: float = 30.0,
) -> tuple[int, int]:
    """Delete jobs that ended more than the retention ago and expired client tokens.

    Returns (jobs deleted, tokens deleted). Unfinished jobs are never deleted.
    """
    now = clock.now()
    cutoff = datetime.fromtimestamp(now, tz=UTC) - timedelta(days=job_retention_days)
    ended_before = cutoff.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cutoff.microsecond // 1000:03d}Z"
    jobs = 0
    while True:
        with uow_factory() as uow:
            uow.limit_statements(statement_timeout)
            expired = uow.jobs.expired(ended_before=ended_before, limit=batch)
            # A job's events go with the job.
            uow.events.delete_of_jobs(expired)
            jobs += uow.jobs.delete(expired)
            uow.commit()
        if len(expired) < batch:
            break
    with uow_factory() as uow:
        uow.limit_statements(statement_timeout)
        tokens = uow.client_tokens.purge(before=now - token_retention_hours * 3600)
        # Events no job caused age like finished jobs.
        uow.events.purge_jobless(before=now - job_retention_days * 86400)
        uow.commit()
    if jobs or tokens:
        log.info("purged jobs=%d client_tokens=%d", jobs, tokens)
    return jobs, tokens
