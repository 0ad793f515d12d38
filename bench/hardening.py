"""Abuse figures against a real ``ecslite serve --demo`` (sim driver, SQLite, loopback only).

Three scenarios, each on a fresh process, each with a probe that sends one signed ShowServer at
a time (the call an automated client keeps making) while the abuse runs:

- ``login-flood``: 300 wrong-password ``POST /v3/auth/tokens`` without credentials, 100 at a
  time; reports the probe's p50/p99, the service's peak RSS during the flood, and the statuses
  the flood got (429 once the login pool or the failure throttle is full);
- ``burst``: 1,000 signed ShowServer requests, 100 at a time; reports their p50/p99 and statuses
  (no 5xx wanted; 429/503 with Retry-After is admission control doing its job);
- ``keygen``: 100 concurrent RSA key pair generations; the probe's p99.

    .venv/bin/python -m bench.hardening [login-flood|burst|keygen ...]

Figures depend on the machine's load: the result table prints the load average next to them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, rss_mb, wait_port
from ecslite.auth.httpx_auth import SdkHmacAuth


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Demo:
    """A real ``ecslite serve --demo`` in a temporary data dir."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ecslite-hardening-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Demo:
        cmd = [sys.executable, "-m", "ecslite", "serve", "--demo", "--port", str(self.port),
               "--data-dir", str(self.tmp / "data")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "ECSLITE_LOG_LEVEL": "warning"})
        wait_port(self.port, timeout=60, proc=self.proc)
        self.demo: dict[str, Any] = json.loads((self.tmp / "data" / "demo.json").read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(15)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def signed(self, limits: httpx.Limits | None = None) -> httpx.AsyncClient:
        d = self.demo
        return httpx.AsyncClient(
            base_url=self.base,
            auth=SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"]),
            timeout=120,
            limits=limits or httpx.Limits(max_connections=200),
        )

    def show_path(self) -> str:
        return f"/v1/{self.demo['project_id']}/cloudservers/{self.demo['servers']['running']}"


async def _probe(svc: Demo, stop: asyncio.Event, out: list[float], rss: list[float]) -> None:
    assert svc.proc is not None
    async with svc.signed() as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            await http.get(svc.show_path())
            out.append((time.perf_counter() - t0) * 1000)
            rss.append(rss_mb(svc.proc.pid))
            await asyncio.sleep(0.02)


async def _baseline(svc: Demo, n: int = 50) -> list[float]:
    lat = []
    async with svc.signed() as http:
        for _ in range(n):
            t0 = time.perf_counter()
            await http.get(svc.show_path())
            lat.append((time.perf_counter() - t0) * 1000)
    return lat


async def _gather(n: int, concurrency: int, call: Any) -> tuple[Counter[int], list[float]]:
    sem = asyncio.Semaphore(concurrency)
    statuses: Counter[int] = Counter()
    lat: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            try:
                status = await call(i)
            except httpx.HTTPError:
                status = 0  # connection refused/closed
            lat.append((time.perf_counter() - t0) * 1000)
            statuses[status] += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return statuses, lat


async def login_flood() -> dict[str, Any]:
    with Demo() as svc:
        before = await _baseline(svc)
        d = svc.demo
        probe: list[float] = []
        rss: list[float] = []
        stop = asyncio.Event()
        async with httpx.AsyncClient(
            base_url=svc.base, timeout=120, limits=httpx.Limits(max_connections=200)
        ) as anon:

            async def login(i: int) -> int:
                body = {"auth": {
                    "identity": {"methods": ["password"], "password": {"user": {
                        "name": d["user_name"] if i % 2 else f"nobody-{i}",
                        "password": f"wrong-{uuid.uuid4().hex}",
                        "domain": {"name": d["domain_name"]}}}},
                    "scope": {"project": {"name": d["project_name"]}}}}
                return (await anon.post("/v3/auth/tokens", json=body)).status_code

            task = asyncio.create_task(_probe(svc, stop, probe, rss))
            t0 = time.perf_counter()
            statuses, _ = await _gather(300, 100, login)
            wall = time.perf_counter() - t0
            stop.set()
            await task
        assert svc.proc is not None
        return {
            "baseline_p99_ms": _pct(before, 99),
            "probe_p50_ms": _pct(probe, 50),
            "probe_p99_ms": _pct(probe, 99),
            "probe_max_ms": max(probe, default=float("nan")),
            "probe_n": len(probe),
            "peak_rss_mib": max(rss, default=float("nan")),
            "flood_s": wall,
            "statuses": dict(statuses),
        }


async def burst() -> dict[str, Any]:
    with Demo() as svc:
        before = await _baseline(svc)
        async with svc.signed() as http:

            async def show(_i: int) -> int:
                return (await http.get(svc.show_path())).status_code

            t0 = time.perf_counter()
            statuses, lat = await _gather(1000, 100, show)
            wall = time.perf_counter() - t0
        return {
            "baseline_p99_ms": _pct(before, 99),
            "p50_ms": _pct(lat, 50),
            "p99_ms": _pct(lat, 99),
            "wall_s": wall,
            "statuses": dict(statuses),
        }


async def keygen() -> dict[str, Any]:
    with Demo() as svc:
        before = await _baseline(svc)
        probe: list[float] = []
        rss: list[float] = []
        stop = asyncio.Event()
        pid = svc.demo["project_id"]
        async with svc.signed() as http:

            async def create(i: int) -> int:
                body = {"keypair": {"name": f"k{i}"}}
                return (await http.post(f"/v2.1/{pid}/os-keypairs", json=body)).status_code

            task = asyncio.create_task(_probe(svc, stop, probe, rss))
            statuses, _ = await _gather(100, 100, create)
            stop.set()
            await task
        return {
            "baseline_p99_ms": _pct(before, 99),
            "probe_p50_ms": _pct(probe, 50),
            "probe_p99_ms": _pct(probe, 99),
            "probe_n": len(probe),
            "statuses": dict(statuses),
        }


SCENARIOS = {"login-flood": login_flood, "burst": burst, "keygen": keygen}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(SCENARIOS)
    for name in names:
        load = os.getloadavg()[0]
        result = asyncio.run(SCENARIOS[name]())
        figures = ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
        )
        print(f"{name} (load {load:.1f}): {figures}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
