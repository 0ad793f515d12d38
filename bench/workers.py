"""Reinstall throughput with 1, 2 and 4 worker processes on PostgreSQL, next to the single
SQLite process.

    .venv/bin/python -m bench.workers [--jobs 400] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each run: a fresh database seeded with the bench fleet, one API process (`serve --no-runner`,
or the embedded runner for SQLite), N `ecslite worker` processes (4 threads each), 8 clients
submitting ``--jobs`` reinstalls as fast as accepted; throughput = jobs / (last end - first
accept). Prints a table and writes bench/results/workers.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.common import RESULTS, free_port, loadavg, machine, scratch_database, wait_port
from bench.ecslite_proc import make_seed
from ecslite.auth.httpx_auth import SdkHmacAuth


def _run(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def measure(*, store: str, workers: int, jobs: int, pg_server: str) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        pg_url = None
        if store == "postgresql":
            _, pg_url = stack.enter_context(scratch_database(pg_server))
        return _measure(store=store, workers=workers, jobs=jobs, pg_url=pg_url)


def _measure(*, store: str, workers: int, jobs: int, pg_url: str | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ecslite-workers-"))
    tenant, doc = make_seed(jobs)
    seed = tmp / "seed.yaml"
    seed.write_text(json.dumps(doc))
    env = {**os.environ, "ECSLITE_LOG_LEVEL": "warning"}
    ecs = [sys.executable, "-m", "ecslite"]
    if pg_url is not None:
        url = pg_url
        subprocess.run(
            [*ecs, "db", "upgrade", "--database-url", url], check=True, env=env, capture_output=True
        )
    else:
        url = f"sqlite:///{tmp / 'data' / 'ecslite.db'}"
    data = str(tmp / "data")
    subprocess.run(
        [*ecs, "seed", "--data-dir", data, "--database-url", url, str(seed)],
        check=True,
        env=env,
        capture_output=True,
    )
    port = free_port()
    serve = [
        *ecs,
        "serve",
        "--port",
        str(port),
        "--data-dir",
        data,
        "--database-url",
        url,
        "--sim-delay",
        "0",
    ]
    if store == "postgresql":
        serve.append("--no-runner")
    procs = [_run(serve, tmp / "api.log", env)]
    try:
        wait_port(port, timeout=120, proc=procs[0])
        for i in range(workers if store == "postgresql" else 0):
            procs.append(
                _run(
                    [*ecs, "worker", "--data-dir", data, "--database-url", url, "--threads", "4"],
                    tmp / f"w{i}.log",
                    env,
                )
            )
        time.sleep(2.0)  # workers connected and listening
        auth = SdkHmacAuth(tenant.access_key, tenant.secret_key, tenant.project_id)
        clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=60)
            for _ in range(8)
        ]

        def submit(i: int) -> str:
            resp = clients[i % 8].post(
                f"/v2/{tenant.project_id}/cloudservers/{tenant.server_ids[i]}/reinstallos",
                json={
                    "os-reinstall": {
                        "keyname": tenant.keyname,
                        "userid": tenant.user_id,
                        "mode": "withStopServer",
                    }
                },
            )
            resp.raise_for_status()
            return str(resp.json()["job_id"])

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(submit, range(jobs)))
        accepted_s = time.perf_counter() - t0
        engine = create_engine(url)
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status IN ('SUCCESS','FAIL')")
                ).scalar_one()
                failed = conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status = 'FAIL'")
                ).scalar_one()
            if done >= jobs:
                break
            if time.perf_counter() - t0 > 900:
                raise TimeoutError(f"{done}/{jobs} jobs finished after 900 s")
            time.sleep(0.05)
        total_s = time.perf_counter() - t0
        engine.dispose()
        for c in clients:
            c.close()
        return {
            "store": store,
            "workers": workers if store == "postgresql" else "embedded",
            "jobs": jobs,
            "failed": int(failed),
            "accepted_per_s": round(jobs / accepted_s, 1),
            "completed_per_s": round(jobs / total_s, 1),
            "seconds": round(total_s, 2),
        }
    finally:
        _stop(procs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=400)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args(argv)
    rows = [measure(store="sqlite", workers=1, jobs=args.jobs, pg_server=args.pg)]
    for n in (1, 2, 4):
        rows.append(measure(store="postgresql", workers=n, jobs=args.jobs, pg_server=args.pg))
    print("| store | worker processes | jobs | failed | accepted/s | completed/s | seconds |")
    print("|---|---|---|---|---|---|---|")
    keys = ("store", "workers", "jobs", "failed", "accepted_per_s", "completed_per_s", "seconds")
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    print(f"machine: {machine()}; loadavg {loadavg()}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "workers.json").write_text(
        json.dumps({"rows": rows, "machine": machine(), "loadavg": loadavg()}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
