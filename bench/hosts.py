"""A ``count=12`` create on 1 host and on 3 hosts (PostgreSQL, sim driver with a per-step
delay): placement spreads the servers and each host's part builds at the same time.

    .venv/bin/python -m bench.hosts [--count 12] [--delay 0.5] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each run: a fresh database, one API process (`serve --no-runner --demo`), N `ecslite worker
--host-id hI` processes; seconds = from the create's acceptance to its job's end. Also the
create's acceptance latency (placement runs inside it). Prints a table and writes
bench/results/hosts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.common import free_port, loadavg, machine, scratch_database, wait_port, write_result
from bench.workers import _run, _stop
from ecslite.auth.httpx_auth import SdkHmacAuth


def measure(*, hosts: int, count: int, delay: float, pg_server: str) -> dict[str, Any]:
    with scratch_database(pg_server) as (_, url):
        return _measure(url, hosts=hosts, count=count, delay=delay)


def _measure(url: str, *, hosts: int, count: int, delay: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ecslite-hosts-"))
    env = {**os.environ, "ECSLITE_LOG_LEVEL": "warning"}
    ecs = [sys.executable, "-m", "ecslite"]
    subprocess.run([*ecs, "db", "upgrade", "--database-url", url], check=True, env=env)
    port = free_port()
    data = tmp / "api"
    serve = [*ecs, "serve", "--demo", "--no-runner", "--port", str(port)]
    procs = [_run([*serve, "--data-dir", str(data), "--database-url", url], tmp / "api.log", env)]
    engine = create_engine(url)
    try:
        wait_port(port, timeout=120, proc=procs[0])
        for i in range(1, hosts + 1):
            worker = [*ecs, "worker", "--database-url", url, "--host-id", f"h{i}"]
            worker += ["--data-dir", str(tmp / f"h{i}"), "--sim-delay", str(delay)]
            procs.append(_run(worker, tmp / f"h{i}.log", env))
        while True:
            with engine.connect() as conn:
                up = conn.execute(text("SELECT count(*) FROM hosts")).scalar_one()
            if up == hosts:
                break
            time.sleep(0.1)
        demo = json.loads((data / "demo.json").read_text())
        auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=60) as http:
            body = {
                "server": {
                    "name": "bench",
                    "imageRef": demo["images"]["cloudinit"],
                    "flavorRef": "s6.small.1",
                    "vpcid": demo["vpc_id"],
                    "nics": [{"subnet_id": demo["subnet_id"]}],
                    "adminPass": "Bench-Passw0rd",
                    "count": count,
                }
            }
            t0 = time.perf_counter()
            resp = http.post(f"/v1/{demo['project_id']}/cloudservers", json=body)
            accept_ms = (time.perf_counter() - t0) * 1000
            resp.raise_for_status()
            job_id = resp.json()["job_id"]
            while True:
                job = http.get(f"/v1/{demo['project_id']}/jobs/{job_id}").json()
                if job["status"] in ("SUCCESS", "FAIL"):
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
        with engine.connect() as conn:
            placed = Counter(
                r[0]
                for r in conn.execute(
                    text("SELECT host_id FROM servers WHERE name LIKE 'bench%'")
                ).all()
            )
        return {
            "hosts": hosts,
            "count": count,
            "sim_delay": delay,
            "status": job["status"],
            "placed": dict(sorted(placed.items())),
            "accept_ms": round(accept_ms, 1),
            "seconds": round(seconds, 2),
        }
    finally:
        engine.dispose()
        _stop(procs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args(argv)
    load = loadavg()
    rows = [measure(hosts=n, count=args.count, delay=args.delay, pg_server=args.pg) for n in (1, 3)]
    print("| hosts | count | sim delay (s/step) | status | placed | accept (ms) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['hosts']} | {r['count']} | {r['sim_delay']} | {r['status']} | "
            f"{r['placed']} | {r['accept_ms']} | {r['seconds']} |"
        )
    print(f"machine: {machine()}; loadavg at start {load}")
    write_result("hosts", {"rows": rows, "machine": machine(), "loadavg_at_start": load})
    return 0


if __name__ == "__main__":
    sys.exit(main())
