"""The job machinery alone: SQL statements, transactions and CPU per reinstall, no HTTP.

Builds the container in this process on a fresh SQLite store, accepts reinstalls through the
service function and runs each job with the runner's own ``run_job`` on this thread, so the
figures do not depend on the HTTP stack, on polling or on thread scheduling. Statement counts
are exact; CPU time is this process's, so it is steadier than wall time on a busy machine.

    .venv/bin/python -m bench.inprocess [--n 300]
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import machine, table, write_result
from bench.ecslite_proc import make_seed


def seeded_container(fleet: int, prefix: str, **seed: Any) -> tuple[Any, Any]:
    """A container over a fresh SQLite store seeded with ``fleet`` servers, and the seeded
    tenant (ecslite is imported here, not at module level: the benches run on older commits
    too, with ``PYTHONPATH`` pointing at them)."""
    from ecslite.bootstrap import build
    from ecslite.config import Settings
    from ecslite.store.secretbox import SecretBox
    from ecslite.store.seeding import SeedDocument, apply_seed

    data = Path(tempfile.mkdtemp(prefix=prefix)) / "data"
    c = build(Settings(data_dir=data))
    t, doc = make_seed(fleet, **seed)
    apply_seed(SeedDocument.model_validate(doc), uow_factory=c.uow_factory,
               box=SecretBox.from_file(data / "master.key"), clock=c.clock)
    return c, t


def accept_one(c: Any, t: Any, i: int, fleet: int) -> str:
    """Accept a withStopServer reinstall of the tenant's i-th server (key pair login)."""
    from ecslite.services.reinstall import ReinstallCommand, accept_reinstall

    cmd = ReinstallCommand(
        project_id=t.project_id, server_id=t.server_ids[i % fleet], keyname=t.keyname,
        userid=t.user_id, password_hash=None, user_data=None, byol=False, encryption=None,
        stop_first=True,
    )
    return accept_reinstall(cmd, uow_factory=c.uow_factory, clock=c.clock)


def run_claimed(c: Any, job_id: str) -> None:
    """Claim the job and run it to its end on this thread, as a runner thread does."""
    if hasattr(c.runner, "run_next"):
        assert c.runner.run_next()
    else:  # commits before run_next: what their runner's claim did
        with c.uow_factory() as uow:
            uow.jobs.claim_next(owner=c.runner.owner, now=c.clock.now(), lease_seconds=15)
            uow.commit()
        c.runner.run_job(job_id)


def run(n: int = 300, fleet: int = 1000) -> dict[str, Any]:
    c, t = seeded_container(fleet, "ecslite-bench-inproc-")
    statements: collections.Counter[str] = collections.Counter()

    @event.listens_for(c.engine, "before_cursor_execute")
    def _count(_conn: Any, _cur: Any, stmt: str, *_: Any) -> None:
        statements[stmt.split(None, 1)[0].upper()] += 1

    def one(i: int) -> None:
        run_claimed(c, accept_one(c, t, i, fleet))

    for i in range(20):  # warm-up: statement caches, SQLite pages
        one(i)
    statements.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(20, 20 + n):
        one(i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    c.close()
    total = sum(statements.values())
    return {
        "reinstalls": n,
        "statements_per_reinstall": round(total / n, 1),
        "by_kind": {k: round(v / n, 1) for k, v in sorted(statements.items())},
        "transactions_per_reinstall": round(statements["BEGIN"] / n, 1),
        "cpu_ms_per_reinstall": round(cpu / n * 1000, 2),
        "wall_ms_per_reinstall": round(wall / n * 1000, 2),
        "cpu_us_per_statement": round(cpu / total * 1e6, 1),
    }


def render(r: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in r["by_kind"].items())
    return table(
        "Job machinery alone (in-process, no HTTP; accept + claim + run_job, withStopServer)",
        ["reinstalls", "statements/reinstall", "of which", "CPU ms/reinstall",
         "wall ms/reinstall", "CPU us/statement"],
        [[r["reinstalls"], r["statements_per_reinstall"], kinds, r["cpu_ms_per_reinstall"],
          r["wall_ms_per_reinstall"], r["cpu_us_per_statement"]]],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args(argv)
    r = run(args.n)
    print(render(r))
    print(f"wrote {write_result('inprocess', {'machine': machine(), **r})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
