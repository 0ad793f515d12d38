"""The retention purge on a large PostgreSQL store: the former single-transaction purge (events
of deleted jobs found with ``NOT IN (SELECT id FROM jobs)``) next to the current one (expired
jobs in batches, each with its sub-jobs and events found by job id), on the same data.

    .venv/bin/python -m bench.purge [--jobs 200000] [--events-per-job 2] [--expired 0.01 0.5]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--old-timeout 60]

The store is filled once, server-side (``INSERT ... SELECT generate_series``: seconds), into a
template database and analysed; each measurement runs on a fresh copy of it. ``--expired`` are
the fractions of jobs past their retention: 1 % is a purge run in steady state (every 10
minutes), 50 % a backlog (retention shortened, or housekeeping off for a while). The former
purge runs with a statement timeout of ``--old-timeout`` seconds. Prints a table and writes
bench/results/purge.json. Rerunnable: the databases it makes are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from sqlalchemy import Engine, and_, delete, or_, select, text
from sqlalchemy.exc import OperationalError

from bench.common import RESULTS, loadavg, machine, scratch_database
from ecslite.domain.clock import Clock
from ecslite.services.housekeeping import purge_expired
from ecslite.store import migrate
from ecslite.store import tables as t
from ecslite.store.engine import make_engine
from ecslite.store.uow import uow_factory

NOW = 1_900_000_000.0  # the purge's "now"
DAY = 86400.0
RETENTION_DAYS = 30.0


class _Fixed(Clock):
    def now(self) -> float:
        return NOW


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _fill(engine: Engine, *, jobs: int, events_per_job: int, expired: float) -> None:
    """Jobs j0..jN (the first ``expired`` fraction ended 40 days ago, the others 1 day ago, the
    last 1 % still RUNNING), one sub-job each, ``events_per_job`` events each of ~600 bytes,
    and 1 % more job-less events (half of them old)."""
    n_expired = int(jobs * expired)
    n_running = jobs // 100
    old, recent = _iso(NOW - 40 * DAY), _iso(NOW - DAY)
    jobless = max(1, jobs * events_per_job // 100)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO jobs (id, project_id, job_type, status, server_id, phase, params, "
                "created, end_time) SELECT md5('job' || i), 'p', 'reinstall', "
                "CASE WHEN i >= :n - :running THEN 'RUNNING' ELSE 'SUCCESS' END, "
                "'srv-' || (i % 1000), 'forward', '{}', CAST(:old AS varchar), "
                "CASE WHEN i >= :n - :running THEN NULL "
                "WHEN i < :exp THEN CAST(:old AS varchar) ELSE CAST(:recent AS varchar) END "
                "FROM generate_series(0, :n - 1) AS i"
            ),
            {"n": jobs, "running": n_running, "exp": n_expired, "old": old, "recent": recent},
        )
        c.execute(
            text(
                "INSERT INTO sub_jobs (id, job_id, seq, job_type, server_id, status) "
                "SELECT md5('sub' || i), md5('job' || i), 0, 'stopServer', 'srv-' || (i % 1000), "
                "'SUCCESS' FROM generate_series(0, :n - 1) AS i"
            ),
            {"n": jobs},
        )
        c.execute(
            text(
                "INSERT INTO events (project_id, kind, job_id, server_id, payload, created_at) "
                "SELECT 'p', 'job', md5('job' || (i / CAST(:per AS integer))), 'srv-' || (i % 1000), "
                "repeat('x', 600), CAST(:ts AS double precision) "
                "FROM generate_series(0, CAST(:n AS integer) * CAST(:per AS integer) - 1) AS i"
            ),
            {"n": jobs, "per": events_per_job, "ts": NOW - DAY},
        )
        c.execute(
            text(
                "INSERT INTO events (project_id, kind, job_id, server_id, payload, created_at) "
                "SELECT 'p', 'server', NULL, 'srv-' || (i % 1000), repeat('x', 600), "
                "CASE WHEN i % 2 = 0 THEN :old ELSE :recent END "
                "FROM generate_series(0, :m - 1) AS i"
            ),
            {"m": jobless, "old": NOW - 40 * DAY, "recent": NOW - DAY},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))


def _old_purge(engine: Engine, timeout: float) -> None:
    """The purge as it was: one transaction, ``IN``/``NOT IN`` subqueries."""
    old = select(t.jobs.c.id).where(
        t.jobs.c.status.in_(["SUCCESS", "FAIL"]),
        t.jobs.c.end_time < _iso(NOW - RETENTION_DAYS * DAY),
    )
    gone = ~t.events.c.job_id.in_(select(t.jobs.c.id))
    with engine.begin() as c:
        c.execute(text(f"SET LOCAL statement_timeout = '{int(timeout * 1000)}ms'"))
        c.execute(delete(t.sub_jobs).where(t.sub_jobs.c.job_id.in_(old)))
        c.execute(delete(t.jobs).where(t.jobs.c.id.in_(old)))
        c.execute(
            delete(t.events).where(
                or_(
                    and_(t.events.c.job_id.is_not(None), gone),
                    and_(
                        t.events.c.job_id.is_(None),
                        t.events.c.created_at < NOW - RETENTION_DAYS * DAY,
                    ),
                )
            )
        )


def _new_purge(engine: Engine) -> None:
    purge_expired(
        uow_factory=uow_factory(engine),
        clock=_Fixed(),
        job_retention_days=RETENTION_DAYS,
        token_retention_hours=168,
    )


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as c:
        jobs = c.execute(text("SELECT count(*) FROM jobs")).scalar_one()
        events = c.execute(text("SELECT count(*) FROM events")).scalar_one()
    return int(jobs), int(events)


def measure(
    server: str, *, jobs: int, events_per_job: int, expired: float, old_timeout: float
) -> dict[str, Any]:
    with scratch_database(server) as (template, url):
        engine = make_engine(url)
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        _fill(engine, jobs=jobs, events_per_job=events_per_job, expired=expired)
        fill_s = time.perf_counter() - t0
        before = _counts(engine)
        engine.dispose()
        row: dict[str, Any] = {
            "jobs": before[0],
            "events": before[1],
            "expired": expired,
            "fill_s": round(fill_s, 1),
        }
        for which in ("old", "new"):
            with scratch_database(server, template) as (_, copy_url):
                engine = make_engine(copy_url)
                t0 = time.perf_counter()
                try:
                    if which == "old":
                        _old_purge(engine, old_timeout)
                    else:
                        _new_purge(engine)
                    row[f"{which}_s"] = round(time.perf_counter() - t0, 2)
                    row[f"{which}_left"] = _counts(engine)
                except OperationalError:
                    row[f"{which}_s"] = f"> {old_timeout:g} (cancelled)"
                    row[f"{which}_left"] = None
                engine.dispose()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--jobs", type=int, default=200_000)
    ap.add_argument("--events-per-job", type=int, default=2)
    ap.add_argument("--expired", type=float, nargs="+", default=[0.01, 0.5])
    ap.add_argument("--old-timeout", type=float, default=60.0)
    args = ap.parse_args()
    load_start = loadavg()
    rows = [
        measure(
            args.pg,
            jobs=args.jobs,
            events_per_job=args.events_per_job,
            expired=e,
            old_timeout=args.old_timeout,
        )
        for e in args.expired
    ]
    result = {"machine": machine(), "load": [load_start, loadavg()], "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "purge.json").write_text(json.dumps(result, indent=2))
    print(f"load (1 min) at start / end: {load_start} / {loadavg()}")
    print(
        "| jobs | events | expired | old purge s | new purge s | left after old | left after new (jobs, events) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['jobs']:,} | {r['events']:,} | {r['expired']:.0%} | {r['old_s']} | "
            f"{r['new_s']} | {r['old_left']} | {r['new_left']} |"
        )


if __name__ == "__main__":
    main()
