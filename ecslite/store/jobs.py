"""Jobs and their sub-jobs: insert, lease (claim, renew, release), compare-and-swap progress.

The runner owns a job while it holds its lease; every write it makes checks the lease, so a
runner that lost it (expired, taken over) learns so from the return value and stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.sql import ColumnElement

from ecslite.domain.job import Job, JobStatus, JobType, Phase, SubJob
from ecslite.store import tables as t
from ecslite.store.changes import Changes

JOBS_CHANNEL = "ecslite_jobs"

# Built once (see servers.py): the reads behind every job event and GET /jobs.
_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("id"))
_JOB_IN_PROJECT = _JOB.where(t.jobs.c.project_id == bindparam("project_id"))
_SUB_JOBS = (
    select(t.sub_jobs).where(t.sub_jobs.c.job_id == bindparam("job_id")).order_by(t.sub_jobs.c.seq)
)
# The runner's writes at every step boundary, built once the same way; the columns to set
# come with the parameters (an UPDATE without values() sets the columns its parameters name).
_JOB_OWNED = update(t.jobs).where(
    t.jobs.c.id == bindparam("_id"), t.jobs.c.lease_owner == bindparam("_owner")
)
_SUB_JOB = update(t.sub_jobs).where(t.sub_jobs.c.id == bindparam("_id"))


def _conds(table: Any, expected: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for key, value in expected.items():
        col = table.c[key]
        conds.append(col.is_(None) if value is None else col == value)
    return conds


def _sub_job(row: Any) -> SubJob:
    return SubJob(
        id=row.id,
        job_id=row.job_id,
        seq=row.seq,
        job_type=row.job_type,
        server_id=row.server_id,
        status=JobStatus(row.status),
        begin_time=row.begin_time,
        end_time=row.end_time,
        error_code=row.error_code,
        fail_reason=row.fail_reason,
    )


# Job columns GET /jobs shows: a write to any other (lease, phase) is not an event.
_JOB_VIEW_COLUMNS = frozenset({"status", "begin_time", "end_time", "error_code", "fail_reason"})


class JobRepo:
    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._c = conn
        self._changes = changes if changes is not None else Changes()

    def add(self, job: Job) -> None:
        self._c.execute(
            insert(t.jobs).values(
                id=job.id,
                project_id=job.project_id,
                job_type=job.job_type.value,
                status=job.status.value,
                server_id=job.server_id,
                host_id=job.host_id,
                phase=job.phase.value,
                params=job.params,
                created=job.created,
            )
        )
        self._changes.jobs.add(job.id)
        if job.sub_jobs:
            self._c.execute(
                insert(t.sub_jobs),
                [
                    {
                        "id": s.id,
                        "job_id": job.id,
                        "seq": s.seq,
                        "job_type": s.job_type,
                        "server_id": s.server_id,
                        "status": s.status.value,
                    }
                    for s in job.sub_jobs
                ],
            )
        if self._c.dialect.name == "postgresql":
            # Delivered at commit: idle workers wake at once instead of at their next poll.
            self._c.execute(select(func.pg_notify(JOBS_CHANNEL, job.id)))

    def bind_host(self, job_id: str, host_id: str) -> None:
        """Bind a job that is bound to no host yet to ``host_id`` (only its runners resume it)."""
        self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.host_id.is_(None))
            .values(host_id=host_id)
        )

    def get(self, job_id: str, project_id: str | None = None) -> Job | None:
        if project_id is None:
            row = self._c.execute(_JOB, {"id": job_id}).first()
        else:
            row = self._c.execute(_JOB_IN_PROJECT, {"id": job_id, "project_id": project_id}).first()
        if row is None:
            return None
        subs = self._c.execute(_SUB_JOBS, {"job_id": job_id}).all()
        return Job(
            id=row.id,
            project_id=row.project_id,
            job_type=JobType(row.job_type),
            status=JobStatus(row.status),
            server_id=row.server_id,
            params=dict(row.params or {}),
            created=row.created,
            host_id=row.host_id,
            phase=Phase(row.phase),
            begin_time=row.begin_time,
            end_time=row.end_time,
            error_code=row.error_code,
            fail_reason=row.fail_reason,
            sub_jobs=tuple(_sub_job(s) for s in subs),
            cancel_requested=bool(row.cancel_requested),
        )

    def recent(
        self, project_id: str, *, server_id: str | None = None, limit: int = 20
    ) -> list[Job]:
        """Return the project's newest jobs (optionally one server's), newest first."""
        q = select(t.jobs.c.id).where(t.jobs.c.project_id == project_id)
        if server_id is not None:
            q = q.where(t.jobs.c.server_id == server_id)
        ids = (
            self._c.execute(q.order_by(t.jobs.c.created.desc(), t.jobs.c.id.desc()).limit(limit))
            .scalars()
            .all()
        )
        return [job for job in (self.get(i, project_id) for i in ids) if job is not None]

    def claim_next(
        self, *, owner: str, now: float, lease_seconds: float, host_id: str | None = None
    ) -> str | None:
        """Lease the oldest unfinished job whose lease is free or expired; return its id.

        A worker bound to ``host_id`` takes only that host's jobs and jobs bound to no host.
        """
        free = or_(t.jobs.c.lease_expires.is_(None), t.jobs.c.lease_expires < now)
        runnable = and_(t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]), free)
        if host_id is not None:
            runnable = and_(runnable, or_(t.jobs.c.host_id.is_(None), t.jobs.c.host_id == host_id))
        q = select(t.jobs.c.id).where(runnable).order_by(t.jobs.c.created, t.jobs.c.id).limit(1)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        job_id = self._c.execute(q).scalar_one_or_none()
        if job_id is None:
            return None
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, runnable)
            .values(lease_owner=owner, lease_expires=now + lease_seconds)
        )
        return job_id if res.rowcount == 1 else None

    def renew_leases(self, *, owner: str, job_ids: Sequence[str], until: float) -> None:
        if job_ids:
            self._c.execute(
                update(t.jobs)
                .where(t.jobs.c.id.in_(list(job_ids)), t.jobs.c.lease_owner == owner)
                .values(lease_expires=until)
            )

    def release_all_leases(self) -> int:
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.lease_owner.is_not(None))
            .values(lease_owner=None, lease_expires=None)
        )
        return int(res.rowcount)

    def cas(
        self,
        job_id: str,
        *,
        owner: str | None,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
    ) -> bool:
        vals = {k: getattr(v, "value", v) for k, v in values.items()}
        if owner is not None and not expected and vals:
            # The runner's check of its lease at every step: the one shape worth building once.
            res = self._c.execute(_JOB_OWNED, {**vals, "_id": job_id, "_owner": owner})
        else:
            conds = _conds(t.jobs, {k: getattr(v, "value", v) for k, v in expected.items()})
            if owner is not None:
                conds.append(t.jobs.c.lease_owner == owner)
            res = self._c.execute(
                update(t.jobs).where(t.jobs.c.id == job_id, *conds).values(**vals)
            )
        if res.rowcount != 1:
            return False
        if not _JOB_VIEW_COLUMNS.isdisjoint(vals):
            self._changes.jobs.add(job_id)
        return True

    def request_cancel(self, job_id: str, project_id: str) -> bool:
        """Mark the project's unfinished job to be cancelled; False when it has ended."""
        res = self._c.execute(
            update(t.jobs)
            .where(
                t.jobs.c.id == job_id,
                t.jobs.c.project_id == project_id,
                t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]),
            )
            .values(cancel_requested=True)
        )
        return res.rowcount == 1

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job was asked to stop (read by the runner at each step boundary)."""
        value = self._c.execute(
            select(t.jobs.c.cancel_requested).where(t.jobs.c.id == job_id)
        ).scalar_one_or_none()
        return bool(value)

    def of_server(self, project_id: str, server_id: str) -> list[Job]:
        """Every kept job that acted on the server (alone or in a batch), oldest first."""
        in_batch = select(t.sub_jobs.c.job_id).where(t.sub_jobs.c.server_id == server_id)
        ids = (
            self._c.execute(
                select(t.jobs.c.id)
                .where(
                    t.jobs.c.project_id == project_id,
                    or_(t.jobs.c.server_id == server_id, t.jobs.c.id.in_(in_batch)),
                )
                .order_by(t.jobs.c.created, t.jobs.c.id)
            )
            .scalars()
            .all()
        )
        return [job for job in (self.get(i, project_id) for i in ids) if job is not None]

    def update_sub_job(self, job_id: str, sub_id: str, **values: Any) -> None:
        vals = {k: getattr(v, "value", v) for k, v in values.items()}
        self._c.execute(_SUB_JOB, {**vals, "_id": sub_id})
        self._changes.jobs.add(job_id)

    def purge_finished(self, *, ended_before: str) -> int:
        """Delete SUCCESS/FAIL jobs (and their sub-jobs) that ended before the ISO time."""
        old = select(t.jobs.c.id).where(
            t.jobs.c.status.in_([JobStatus.SUCCESS.value, JobStatus.FAIL.value]),
            t.jobs.c.end_time < ended_before,
        )
        self._c.execute(delete(t.sub_jobs).where(t.sub_jobs.c.job_id.in_(old)))
        res = self._c.execute(delete(t.jobs).where(t.jobs.c.id.in_(old)))
        return int(res.rowcount)

    def unfinished(self, project_id: str) -> list[str]:
        """Ids of the project's jobs not yet SUCCESS or FAIL, oldest first."""
        return list(
            self._c.execute(
                select(t.jobs.c.id)
                .where(
                    t.jobs.c.project_id == project_id,
                    t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]),
                )
                .order_by(t.jobs.c.created, t.jobs.c.id)
            ).scalars()
        )
