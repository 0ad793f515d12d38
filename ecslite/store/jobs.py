"""Jobs and their sub-jobs: insert, lease (claim, renew, release), compare-and-swap progress.

The runner owns a job while it holds its lease; every write it makes checks the lease, so a
runner that lost it (expired, taken over) learns so from the return value and stops.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql import ColumnElement

from ecslite.domain.job import PARTS_HOST, Job, JobStatus, JobType, Phase, SubJob
from ecslite.store import tables as t
from ecslite.store.changes import Changes
from ecslite.store.job_follow import JOB_VIEW_COLUMNS, applied, sub_applied

JOBS_CHANNEL = "ecslite_jobs"

# Built once (see servers.py): the reads behind every job event and GET /jobs.
_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("id"))
_JOB_IN_PROJECT = _JOB.where(t.jobs.c.project_id == bindparam("project_id"))
_SUB_JOBS = (
    select(t.sub_jobs).where(t.sub_jobs.c.job_id == bindparam("job_id")).order_by(t.sub_jobs.c.seq)
)
# A job spanning hosts shows its parts' sub-jobs (their seq numbers are the whole job's).
_PART_SUB_JOBS = (
    select(t.sub_jobs)
    .where(
        t.sub_jobs.c.job_id.in_(
            select(t.jobs.c.id).where(t.jobs.c.parent_id == bindparam("job_id")).scalar_subquery()
        )
    )
    .order_by(t.sub_jobs.c.seq)
)
_UNFINISHED = [JobStatus.INIT.value, JobStatus.RUNNING.value]
# The runner's writes at every step boundary, built once the same way; the columns to set
# come with the parameters (an UPDATE without values() sets the columns its parameters name).
_JOB_OWNED = update(t.jobs).where(
    t.jobs.c.id == bindparam("_id"), t.jobs.c.lease_owner == bindparam("_owner")
)
# The same check answering whether the job was asked to stop: the runner reads the mark with
# the lease it renews at each step boundary instead of in a statement of its own (UPDATE …
# RETURNING: SQLite >= 3.35, PostgreSQL; on PostgreSQL the row lock orders it after a
# concurrent CancelJob's write).
# It also answers whether any injected fault has uses left, so that a boundary looks for a
# fault of its step only when there is one at all (faults are a testing tool: nearly always
# none, and the look-up was a statement at every step boundary).
_JOB_OWNED_CANCEL = _JOB_OWNED.returning(
    t.jobs.c.cancel_requested,
    select(t.sim_faults.c.id).where(t.sim_faults.c.remaining > 0).exists(),
)
_SUB_JOB = update(t.sub_jobs).where(t.sub_jobs.c.id == bindparam("_id"))


@dataclass(frozen=True)
class Owned:
    """What the lease holder learns when it renews its lease: the job's cancellation mark,
    and whether any injected fault is pending."""

    cancel_requested: bool
    faults_pending: bool = True


def _runnable(now: float, host_id: str | None) -> ColumnElement[bool]:
    """Unfinished, lease free or expired, and (for a runner of ``host_id``) of that host or
    of none."""
    free = or_(t.jobs.c.lease_expires.is_(None), t.jobs.c.lease_expires < now)
    runnable = and_(t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]), free)
    if host_id is not None:
        runnable = and_(runnable, or_(t.jobs.c.host_id.is_(None), t.jobs.c.host_id == host_id))
    return runnable


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


class JobRepo:
    """Jobs in one transaction.

    The repository follows the jobs it read, inserted or was handed (``track``) through its
    own writes, so the event recorder renders a changed job from ``current`` without reading
    it back. Only the lease holder writes a leased job, so the runner's copy is the row.
    """

    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._c = conn
        self._changes = changes if changes is not None else Changes()
        self._known: dict[str, Job] = {}

    def track(self, job: Job) -> None:
        """Take ``job`` as the row's state now (the caller holds its lease and wrote it last)."""
        self._known[job.id] = job

    def tracked(self, job_id: str) -> Job | None:
        """The job as this transaction's writes left it, if they were all followed."""
        return self._known.get(job_id)

    def current(self, job_id: str) -> Job | None:
        """The job as it is in this transaction: followed through its writes, or read."""
        job = self._known.get(job_id)
        return job if job is not None else self.get(job_id)

    def _follow(self, job_id: str, job: Job | None) -> None:
        if job is None:
            self._known.pop(job_id, None)
        else:
            self._known[job_id] = job

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
                parent_id=job.parent_id,
            )
        )
        self._changes.jobs.add(job.id)
        # What the row holds now: the columns written above, the others at their defaults.
        self._known[job.id] = dataclasses.replace(
            job,
            begin_time=None,
            end_time=None,
            error_code=None,
            fail_reason=None,
            params=dict(job.params),
            sub_jobs=tuple(
                dataclasses.replace(
                    s,
                    job_id=job.id,
                    begin_time=None,
                    end_time=None,
                    error_code=None,
                    fail_reason=None,
                )
                for s in job.sub_jobs
            ),
        )
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
        self._known.pop(job_id, None)

    def get(self, job_id: str, project_id: str | None = None) -> Job | None:
        if project_id is None:
            row = self._c.execute(_JOB, {"id": job_id}).first()
        else:
            row = self._c.execute(_JOB_IN_PROJECT, {"id": job_id, "project_id": project_id}).first()
        return None if row is None else self._with_sub_jobs(row)

    def _with_sub_jobs(self, row: Any) -> Job:
        """The job of a ``jobs`` row, its sub-jobs read; followed from now on."""
        q = _PART_SUB_JOBS if row.host_id == PARTS_HOST else _SUB_JOBS
        subs = self._c.execute(q, {"job_id": row.id}).all()
        job = Job(
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
            parent_id=row.parent_id,
            cancel_requested=bool(row.cancel_requested),
        )
        self._known[job.id] = job
        return job

    def recent(
        self, project_id: str, *, server_id: str | None = None, limit: int = 20
    ) -> list[Job]:
        """Return the project's newest jobs (optionally one server's), newest first."""
        q = select(t.jobs.c.id).where(
            t.jobs.c.project_id == project_id, t.jobs.c.parent_id.is_(None)
        )
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
        """Lease the oldest unfinished job whose lease is free or expired; return its id."""
        job = self.claim_next_job(
            owner=owner, now=now, lease_seconds=lease_seconds, host_id=host_id
        )
        return None if job is None else job.id

    def claim_next_job(
        self, *, owner: str, now: float, lease_seconds: float, host_id: str | None = None
    ) -> Job | None:
        """Lease the oldest unfinished job whose lease is free or expired; return it as the
        claim's UPDATE left it (RETURNING, so the claim reads no job row of its own).

        A runner of ``host_id`` takes only that host's jobs and jobs bound to no host (never
        another host's, never a job spanning hosts: its parts are bound to their hosts).
        """
        runnable = _runnable(now, host_id)
        q = select(t.jobs.c.id).where(runnable).order_by(t.jobs.c.created, t.jobs.c.id).limit(1)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        job_id = self._c.execute(q).scalar_one_or_none()
        if job_id is None:
            return None
        row = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, runnable)
            .values(lease_owner=owner, lease_expires=now + lease_seconds)
            .returning(*t.jobs.c)
        ).first()
        return None if row is None else self._with_sub_jobs(row)

    def lease(self, job_id: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Lease this job if it is unfinished and its lease is free or expired."""
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, _runnable(now, None))
            .values(lease_owner=owner, lease_expires=now + lease_seconds)
        )
        self._known.pop(job_id, None)
        return res.rowcount == 1

    def renew_leases(self, *, leases: Sequence[tuple[str, str]], until: float) -> None:
        """Extend the leases named by (job id, lease owner) pairs that are still held."""
        if leases:
            self._c.execute(
                update(t.jobs)
                .where(tuple_(t.jobs.c.id, t.jobs.c.lease_owner).in_(list(leases)))
                .values(lease_expires=until)
            )

    def release_leases_of(self, owner_prefix: str) -> int:
        """Free the leases held by owners named ``owner_prefix``… (this worker's earlier run)."""
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.lease_owner.startswith(owner_prefix, autoescape=True))
            .values(lease_owner=None, lease_expires=None)
        )
        return int(res.rowcount)

    def parts_of(self, parent_id: str) -> list[str]:
        return list(
            self._c.execute(
                select(t.jobs.c.id).where(t.jobs.c.parent_id == parent_id).order_by(t.jobs.c.id)
            ).scalars()
        )

    def roll_up(self, parent_id: str, *, now: str) -> None:
        """Bring a job spanning hosts up to date with its parts: RUNNING once one began, SUCCESS
        when all succeeded, FAIL (with the first failed part's error) when all ended."""
        q = select(t.jobs).where(t.jobs.c.id == parent_id)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update()  # two parts ending at once: one decides after the other
        parent = self._c.execute(q).first()
        if parent is None or parent.status not in _UNFINISHED:
            return
        parts = self._c.execute(
            select(t.jobs).where(t.jobs.c.parent_id == parent_id).order_by(t.jobs.c.id)
        ).all()
        values: dict[str, Any] = {}
        if all(p.status not in _UNFINISHED for p in parts):
            failed = [p for p in parts if p.status == JobStatus.FAIL.value]
            values = {"status": (JobStatus.FAIL if failed else JobStatus.SUCCESS).value}
            values["end_time"] = now
            values["begin_time"] = parent.begin_time or now
            if failed:
                values.update(error_code=failed[0].error_code, fail_reason=failed[0].fail_reason)
        elif parent.status == JobStatus.INIT.value and any(p.status != "INIT" for p in parts):
            values = {"status": JobStatus.RUNNING.value, "begin_time": now}
        if values:
            self._c.execute(update(t.jobs).where(t.jobs.c.id == parent_id).values(**values))
        self._known.pop(parent_id, None)
        self._changes.jobs.add(parent_id)

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
        known = self._known.get(job_id)
        if known is not None:
            self._follow(job_id, applied(known, values))
        if not JOB_VIEW_COLUMNS.isdisjoint(vals):
            self._changes.jobs.add(job_id)
        return True

    def own(self, job_id: str, *, owner: str, values: Mapping[str, Any]) -> Owned | None:
        """Write ``values`` (at least the lease's expiry) to the job while ``owner`` holds its
        lease, and read its cancellation mark in the same statement; None: not its lease."""
        vals = {k: getattr(v, "value", v) for k, v in values.items()}
        row = self._c.execute(_JOB_OWNED_CANCEL, {**vals, "_id": job_id, "_owner": owner}).first()
        if row is None:
            return None
        known = self._known.get(job_id)
        if known is not None:
            self._follow(job_id, applied(known, values))
        if not JOB_VIEW_COLUMNS.isdisjoint(vals):
            self._changes.jobs.add(job_id)
        return Owned(cancel_requested=bool(row[0]), faults_pending=bool(row[1]))

    def request_cancel(self, job_id: str, project_id: str) -> bool:
        """Mark the project's unfinished job to be cancelled (a job spanning hosts: each of its
        parts, which their hosts' runners read); False when it has ended."""
        res = self._c.execute(
            update(t.jobs)
            .where(
                or_(t.jobs.c.id == job_id, t.jobs.c.parent_id == job_id),
                t.jobs.c.project_id == project_id,
                t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]),
            )
            .values(cancel_requested=True)
        )
        return res.rowcount >= 1

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
        known = self._known.get(job_id)
        if known is not None:
            self._follow(job_id, sub_applied(known, sub_id, values))

    def expired(self, *, ended_before: str, limit: int) -> list[str]:
        """Ids of up to ``limit`` SUCCESS/FAIL jobs that ended before the ISO time."""
        return list(
            self._c.execute(
                select(t.jobs.c.id)
                .where(
                    t.jobs.c.status.in_([JobStatus.SUCCESS.value, JobStatus.FAIL.value]),
                    t.jobs.c.end_time < ended_before,
                )
                .limit(limit)
            ).scalars()
        )

    def delete(self, job_ids: Sequence[str]) -> int:
        """Delete these jobs and their sub-jobs (their events: ``EventRepo.delete_of_jobs``)."""
        if not job_ids:
            return 0
        for job_id in job_ids:
            self._known.pop(job_id, None)
        self._c.execute(delete(t.sub_jobs).where(t.sub_jobs.c.job_id.in_(job_ids)))
        res = self._c.execute(delete(t.jobs).where(t.jobs.c.id.in_(job_ids)))
        return int(res.rowcount)

    def queue(self) -> list[tuple[str, str | None, int, str]]:
        """(status, host_id, count, oldest created) of the INIT and RUNNING jobs, for metrics:
        one statement on ``ix_jobs_runnable``, whatever the number of finished jobs."""
        c = t.jobs.c
        rows = self._c.execute(
            select(c.status, c.host_id, func.count(), func.min(c.created))
            .where(c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]))
            .group_by(c.status, c.host_id)
        ).all()
        return [(r[0], r[1], int(r[2]), r[3]) for r in rows]

    def unfinished(self, project_id: str) -> list[str]:
        """Ids of the project's jobs not yet SUCCESS or FAIL, oldest first."""
        return list(
            self._c.execute(
                select(t.jobs.c.id)
                .where(
                    t.jobs.c.project_id == project_id,
                    t.jobs.c.status.in_(_UNFINISHED),
                    t.jobs.c.parent_id.is_(None),
                )
                .order_by(t.jobs.c.created, t.jobs.c.id)
            ).scalars()
        )
