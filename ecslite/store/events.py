"""The change stream: every committed state change of a job or server, numbered and durable.

A unit of work notes which jobs and servers its writes touched (``Changes``). Just before it
commits, an ``EventRecorder`` renders each one as the API would answer for it at that moment
and appends the bodies to the ``events`` table in the same transaction, so an event exists
exactly when its state change does, whichever process (API or worker) made it. Readers page
through the table by id; ``EventBus`` only wakes them (in-process after a commit, and from
PostgreSQL ``NOTIFY`` for changes made by other processes), so a missed wake-up delays an
event but never loses it.

Ids are handed out in commit order: SQLite has one writer at a time, and on PostgreSQL the
insert takes a transaction-scoped advisory lock that is held until the commit. A reader that
has delivered id N therefore never sees a smaller id appear later.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Connection, delete, func, insert, select

from ecslite.store import tables as t
from ecslite.store.changes import Changes

EVENTS_CHANNEL = "ecslite_events"
# Any constant: the one advisory lock that orders event inserts with their commits.
_PG_EVENTS_LOCK = 0x6563736C  # "ecsl"


@dataclass(frozen=True)
class Rendered:
    """An entity's API body at one moment, with what the stream filters on."""

    project_id: str
    server_id: str | None
    payload: str  # JSON
    # The job the body shows, when not the one that changed (a part shows its whole job).
    job_id: str | None = None


@dataclass(frozen=True)
class Event:
    id: int
    kind: str  # job | server
    job_id: str | None
    server_id: str | None
    payload: str
    # Filled by ``since_all`` (a reader shared by streams of many projects filters on it).
    project_id: str | None = None


class EventRepo:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def append(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert events; on PostgreSQL, hold the ordering lock until commit and notify."""
        if not rows:
            return
        if self._c.dialect.name == "postgresql":
            self._c.execute(select(func.pg_advisory_xact_lock(_PG_EVENTS_LOCK)))
        self._c.execute(insert(t.events), list(rows))
        if self._c.dialect.name == "postgresql":
            self._c.execute(select(func.pg_notify(EVENTS_CHANNEL, "")))

    def last_id(self) -> int:
        return int(self._c.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())

    def last_id_of_job(self, job_id: str) -> int:
        return int(
            self._c.execute(
                select(func.coalesce(func.max(t.events.c.id), 0)).where(
                    t.events.c.job_id == job_id, t.events.c.kind == "job"
                )
            ).scalar_one()
        )

    def since(
        self,
        after: int,
        *,
        project_id: str,
        job_id: str | None = None,
        server_id: str | None = None,
        limit: int = 200,
    ) -> list[Event]:
        c = t.events.c
        conds = [c.id > after, c.project_id == project_id]
        if job_id is not None:
            conds.append(c.job_id == job_id)
        if server_id is not None:
            conds.append(c.server_id == server_id)
        rows = self._c.execute(
            select(c.id, c.kind, c.job_id, c.server_id, c.payload)
            .where(*conds)
            .order_by(c.id)
            .limit(limit)
        ).all()
        return [Event(r.id, r.kind, r.job_id, r.server_id, r.payload) for r in rows]

    def since_all(self, after: int, *, limit: int = 200) -> list[Event]:
        """Up to ``limit`` events of every project after ``after`` (in id order)."""
        c = t.events.c
        rows = self._c.execute(
            select(c.id, c.kind, c.job_id, c.server_id, c.payload, c.project_id)
            .where(c.id > after)
            .order_by(c.id)
            .limit(limit)
        ).all()
        return [Event(r.id, r.kind, r.job_id, r.server_id, r.payload, r.project_id) for r in rows]

    def delete_of_jobs(self, job_ids: Sequence[str]) -> int:
        """Delete the events of these jobs (through ``ix_events_job``)."""
        if not job_ids:
            return 0
        res = self._c.execute(delete(t.events).where(t.events.c.job_id.in_(job_ids)))
        return int(res.rowcount)

    def purge_jobless(self, *, before: float) -> int:
        """Delete events no job caused that are older than ``before``.

        A job's own events go with the job (``delete_of_jobs``, in the transaction that deletes
        it, and nothing else deletes jobs), so no event outlives its job and no sweep over the
        whole table for orphans is needed: this reads only the job-less rows, through
        ``ix_events_job`` (a B-tree index holds NULLs).
        """
        c = t.events.c
        res = self._c.execute(delete(t.events).where(c.job_id.is_(None), c.created_at < before))
        return int(res.rowcount)


class Transaction(Protocol):
    """What the recorder needs of the transaction it records into (a unit of work)."""

    @property
    def events(self) -> EventRepo: ...


Tx = TypeVar("Tx", bound=Transaction)
# (transaction, id) -> the body GET would answer now, or None when the entity no longer exists.
Renderer = Callable[[Tx, str], Rendered | None]


class EventRecorder(Generic[Tx]):
    """Turn a transaction's ``Changes`` into event rows just before it commits.

    Generic in the transaction type, so the renderers can read through the unit of work
    without this module importing it (the unit of work imports this one).
    """

    def __init__(
        self,
        *,
        render_job: Renderer[Tx],
        render_server: Renderer[Tx],
        now: Callable[[], float],
        committed: Callable[[], None],
    ) -> None:
        self._render_job = render_job
        self._render_server = render_server
        self._now = now
        self.committed = committed

    def record(self, uow: Tx, changes: Changes) -> bool:
        """Append one event per changed server, then per changed job; return whether any."""
        now = self._now()
        jobs = sorted(changes.jobs)
        # A server event names the job that changed it when the transaction ran exactly one.
        cause = jobs[0] if len(jobs) == 1 else None
        rows: list[dict[str, object]] = []
        for server_id in sorted(changes.servers):
            r = self._render_server(uow, server_id)
            if r is not None:
                rows.append(_row("server", r, cause, server_id, now))
        shown: set[str] = set()
        for job_id in jobs:
            r = self._render_job(uow, job_id)
            if r is not None and (r.job_id or job_id) not in shown:
                shown.add(r.job_id or job_id)
                rows.append(_row("job", r, r.job_id or job_id, r.server_id, now))
        uow.events.append(rows)
        return bool(rows)


def _row(
    kind: str, r: Rendered, job_id: str | None, server_id: str | None, now: float
) -> dict[str, object]:
    return {
        "project_id": r.project_id,
        "kind": kind,
        "job_id": job_id,
        "server_id": server_id,
        "payload": r.payload,
        "created_at": now,
    }


class EventBus:
    """Wake stream readers (asyncio tasks) when new events may exist. Thread-safe publish."""

    def __init__(self) -> None:
        self._seq = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def seq(self) -> int:
        """Changes each time ``publish`` is called; read it before looking for events."""
        return self._seq

    def publish(self) -> None:
        with self._lock:
            self._seq += 1
            waiters = list(self._waiters)
        for loop, ev in waiters:
            with contextlib.suppress(RuntimeError):  # that reader's loop is closing
                loop.call_soon_threadsafe(ev.set)

    async def wait(self, seen: int, timeout: float) -> None:
        """Return once ``publish`` was called after ``seq`` was ``seen``, or after ``timeout``."""
        ev = asyncio.Event()
        entry = (asyncio.get_running_loop(), ev)
        with self._lock:
            if self._seq != seen:
                return
            self._waiters.add(entry)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), timeout)
        finally:
            with self._lock:
                self._waiters.discard(entry)
