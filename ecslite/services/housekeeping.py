"""Bound the tables that grow with use: finished jobs, their events, idempotency tokens."""

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
) -> tuple[int, int]:
    """Delete jobs that ended more than the retention ago and expired client tokens.

    Returns (jobs deleted, tokens deleted). Unfinished jobs are never deleted.
    """
    now = clock.now()
    cutoff = datetime.fromtimestamp(now, tz=UTC) - timedelta(days=job_retention_days)
    ended_before = cutoff.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cutoff.microsecond // 1000:03d}Z"
    with uow_factory() as uow:
        jobs = uow.jobs.purge_finished(ended_before=ended_before)
        tokens = uow.client_tokens.purge(before=now - token_retention_hours * 3600)
        # A job's events go with the job; events no job caused age like finished jobs.
        uow.events.purge(before=now - job_retention_days * 86400)
        uow.commit()
    if jobs or tokens:
        log.info("purged jobs=%d client_tokens=%d", jobs, tokens)
    return jobs, tokens
