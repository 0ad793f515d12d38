"""Statements, transactions and CPU of one stop and one start (sim, in-process, no HTTP).

A short job's cost in the job machinery: the accept through the service, then the job claimed
and run as a runner thread does (``JobRunner.run_next``; on commits without it, the claim and
``run_job``). Statement counts are exact; CPU moves with the machine's load. Meant for
before/after pairs: run it on both commits in one session.

    .venv/bin/python -m bench.power_cost [--n 50]
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import loadavg, write_result
from bench.ecslite_proc import make_seed
from bench.reinstall_cost import _fixed_public_key


def run(n: int = 50) -> dict[str, Any]:
    from ecslite.bootstrap import build
    from ecslite.config import Settings
    from ecslite.services.power import accept_power_action
    from ecslite.store.secretbox import SecretBox
    from ecslite.store.seeding import SeedDocument, apply_seed

    data = Path(tempfile.mkdtemp(prefix="ecslite-bench-power-")) / "data"
    c = build(Settings(data_dir=data))
    t, doc = make_seed(n + 10, public_key=_fixed_public_key())
    apply_seed(SeedDocument.model_validate(doc), uow_factory=c.uow_factory,
               box=SecretBox.from_file(data / "master.key"), clock=c.clock)
    statements: collections.Counter[str] = collections.Counter()

    @event.listens_for(c.engine, "before_cursor_execute")
    def _count(_conn: Any, _cur: Any, stmt: str, *_: Any) -> None:
        statements[" ".join(stmt.split())] += 1

    def one(server_id: str, stop: bool) -> None:
        job_id = accept_power_action(project_id=t.project_id, server_ids=[server_id], stop=stop,
                                     uow_factory=c.uow_factory, clock=c.clock)
        if hasattr(c.runner, "run_next"):
            assert c.runner.run_next()
        else:
            with c.uow_factory() as uow:
                uow.jobs.claim_next(owner=c.runner.owner, now=c.clock.now(), lease_seconds=15)
                uow.commit()
            c.runner.run_job(job_id)

    out: dict[str, Any] = {"jobs": n, "loadavg": loadavg()}
    for stop in (True, False):  # the seeded servers are ACTIVE: stop them, then start them
        for sid in t.server_ids[:5]:  # warm-up
            one(sid, stop)
        statements.clear()
        cpu0 = time.process_time()
        for sid in t.server_ids[10:10 + n]:
            one(sid, stop)
        cpu = time.process_time() - cpu0
        name = "stop" if stop else "start"
        out[f"{name}_statements"] = round(sum(statements.values()) / n, 1)
        out[f"{name}_transactions"] = round(
            sum(v for k, v in statements.items() if k.startswith("BEGIN")) / n, 1)
        out[f"{name}_cpu_ms"] = round(cpu / n * 1000, 2)
    c.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50)
    r = run(ap.parse_args(argv).n)
    for k, v in r.items():
        print(f"{k}: {v}")
    write_result("power_cost", r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
