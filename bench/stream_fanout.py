"""What idle event streams cost the API process: its CPU seconds per reinstall with 0 and with
N idle streams open (issue 24: every commit wakes every stream) — the reinstalling tenant's own
streams (each carries the reinstall's events) or, with ``--other-tenant``, another tenant's.

CPU time of the API process (from /proc), not wall time, so the figure moves less with the
load of a shared machine than a latency does (it still moves: caches, frequency).

    .venv/bin/python -m bench.stream_fanout [--streams 100] [--reinstalls 5] [--other-tenant]

Run it from an export of an older commit (PYTHONPATH=<export> .venv/bin/python -m
bench.stream_fanout) to compare; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import cpu_seconds, free_port, wait_port
from ecslite.auth.httpx_auth import SdkHmacAuth


def _client(port: int, d: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        auth=SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"]),
        limits=httpx.Limits(max_connections=1000),
        timeout=120,
    )


async def _reinstalls(port: int, d: dict[str, Any], n: int) -> None:
    body = {"os-reinstall": {"keyname": "demo-key", "userid": d["user_id"], "mode": "withStopServer"}}
    server = d["servers"]["stopped"]
    async with _client(port, d) as c:
        for _ in range(n):
            # Each its own client token: identical requests within one second are one request.
            r = await c.post(
                f"/v2/{d['project_id']}/cloudservers/{server}/reinstallos",
                json=body,
                headers={"X-Client-Token": uuid.uuid4().hex},
            )
            r.raise_for_status()
            job = r.json()["job_id"]
            while True:
                status = (await c.get(f"/v1/{d['project_id']}/jobs/{job}")).json()["status"]
                if status in ("SUCCESS", "FAIL"):
                    break
                await asyncio.sleep(0.2)
            if status != "SUCCESS":
                raise RuntimeError(f"reinstall {job} ended {status}")


async def _measure(
    port: int, pid: int, d: dict[str, Any], streams: int, n: int, *, other: bool
) -> float:
    owner = d["other_project"] if other else d
    async with _client(port, owner) as c:
        opened = []
        for _ in range(streams):
            cm = c.stream("GET", f"/v1/{owner['project_id']}/events")
            resp = await cm.__aenter__()
            if resp.status_code != 200:
                raise RuntimeError(f"stream refused {resp.status_code}")
            opened.append(cm)
        await asyncio.sleep(1)
        before = cpu_seconds(pid)
        await _reinstalls(port, d, n)
        spent = cpu_seconds(pid) - before
        for cm in opened:
            await cm.__aexit__(None, None, None)
    return spent / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--reinstalls", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--other-tenant",
        action="store_true",
        help="the streams are another tenant's (they see none of the reinstalls' events)",
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ecslite-fanout-"))
    port = free_port()
    env = {
        **os.environ,
        "ECSLITE_LOG_LEVEL": "warning",
        "ECSLITE_MAX_STREAMS_PER_PROJECT": str(max(args.streams, 1)),
    }
    cmd = [sys.executable, "-m", "ecslite", "serve", "--demo", "--port", str(port)]
    with open(tmp / "service.log", "ab") as log:
        proc = subprocess.Popen([*cmd, "--data-dir", str(tmp / "data")], stdout=log, stderr=log, env=env)
    try:
        wait_port(port, timeout=90, proc=proc)
        d = json.loads((tmp / "data" / "demo.json").read_text())
        asyncio.run(_reinstalls(port, d, 1))  # warm up
        rows: list[tuple[int, float]] = []
        for _ in range(args.rounds):  # alternate, so a change of machine load hits both
            for streams in (0, args.streams):
                rows.append((streams, asyncio.run(
                    _measure(port, proc.pid, d, streams, args.reinstalls, other=args.other_tenant)
                )))
        print(f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}  ({time.strftime('%H:%M:%S')})")
        whose = "another tenant's" if args.other_tenant else "the reinstalling tenant's"
        print(f"streams: {whose}")
        print("| idle streams open | API CPU per reinstall |")
        print("| --- | --- |")
        for streams, per in rows:
            print(f"| {streams} | {per * 1000:.0f} ms |")
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
