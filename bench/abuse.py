"""Combined abuse against one real ``ecslite serve --demo`` (issue 24), loopback only.

While, at the same time (each abuser from its own loopback address; all of 127/8 is local):

- 1,000 idle TCP connections (127.0.0.2) that never send a byte, reopened when closed;
- 300 idle event streams of one tenant (the demo tenant itself, 127.0.0.3), reopened when
  closed or refused (after 1 s);
- 100 slow-body uploads without credentials (127.0.0.4): ``POST /v1/x/cloudservers`` with
  ``Content-Length: 60000`` and one byte a second, reopened when closed;
- a 300-request wrong-password login flood, 100 at a time (127.0.0.5);

a legitimate client (127.0.0.1) sends signed ShowServer requests one after another and, every
few seconds, a signed reinstall (``withStopServer``) of the demo's stopped server and follows
its job to the end. Reported: ShowServer p50/p99/max and success rate, reinstalls accepted
and SUCCESS, what the abusers got, the service's peak RSS, and the recovery after the abusers
stop (time until a new connection from each abuser's address is served and a new stream of
the tenant opens).

    .venv/bin/python -m bench.abuse [--seconds 40] [--postgres URL]

``--postgres URL`` runs two API processes (``--no-runner``) and one worker on that database
and splits the abuse and the legitimate client between them (half each).

Every loop is bounded in count and time; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.common import cpu_seconds, free_port, hwm_mb, scratch_database, wait_port
from ecslite.auth.httpx_auth import SdkHmacAuth

IDLE_TCP, STREAMS, SLOW_UPLOADS, LOGINS, LOGIN_CONCURRENCY = 1000, 300, 100, 300, 100
# A refused stream comes back after its Retry-After (as an SDK's retry would), or after 1 s
# with BENCH_IGNORE_RETRY_AFTER=1 (then it is a request flood of ~200 requests a second).
IGNORE_RETRY_AFTER = bool(os.environ.get("BENCH_IGNORE_RETRY_AFTER"))
RECONNECT = 1.0  # seconds an idle-TCP or slow-upload abuser waits before opening a new one


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- the service ----------------------------------------------------------------------------


class Services:
    def __init__(self, postgres: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ecslite-abuse-"))
        self.data = self.tmp / "data"
        self.postgres = postgres
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Services:
        env = {**os.environ, "ECSLITE_LOG_LEVEL": "warning"}
        log = self._stack.enter_context(open(self.tmp / "service.log", "ab"))
        base = [sys.executable, "-m", "ecslite"]
        if self.postgres is None:
            port = free_port()
            cmd = [*base, "serve", "--demo", "--port", str(port), "--data-dir", str(self.data)]
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, env=env))
            self.ports.append(port)
        else:
            _, url = self._stack.enter_context(scratch_database(self.postgres))
            db = ["--database-url", url, "--data-dir", str(self.data)]
            subprocess.run([*base, "db", "upgrade", *db[:2]], check=True, env=env)
            for i in range(2):
                port = free_port()
                extra = ["--demo"] if i == 0 else []
                cmd = [*base, "serve", *extra, "--no-runner", "--port", str(port), *db]
                self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, env=env))
                self.ports.append(port)
                wait_port(port, timeout=90, proc=self.procs[-1])
            self.procs.append(
                subprocess.Popen([*base, "worker", *db], stdout=log, stderr=log, env=env)
            )
        for port, proc in zip(self.ports, self.procs, strict=False):
            wait_port(port, timeout=90, proc=proc)
        self.demo: dict[str, Any] = json.loads((self.data / "demo.json").read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._stack.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def api_pids(self) -> list[int]:
        return [p.pid for p in self.procs[: len(self.ports)]]


# --- the abusers (a child process, so their work does not share the probe's interpreter) -----


def _abusers(ports: list[int], demo: dict[str, Any], seconds: float, out: Any) -> None:
    # A real attacker's CPU is not the server's: on this one machine the abusers run at the
    # lowest priority, so what they cost the service is what it does for them, not the CPU
    # their own client code takes from it.
    os.nice(19)
    stats: Counter[str] = Counter()
    asyncio.run(_abuse(ports, demo, seconds, stats))
    out.send(dict(stats))


async def _abuse(ports: list[int], demo: dict[str, Any], seconds: float, stats: Counter[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(seconds, stop.set)
    only = set(filter(None, os.environ.get("BENCH_ONLY", "idle,slow,streams,login").split(",")))
    tasks = [
        *(asyncio.create_task(_idle_tcp(ports[i % len(ports)], stop, stats)) for i in range(IDLE_TCP * ("idle" in only))),
        *(asyncio.create_task(_slow_upload(ports[i % len(ports)], stop, stats)) for i in range(SLOW_UPLOADS * ("slow" in only))),
        *([asyncio.create_task(_streams(ports, demo, stop, stats))] if "streams" in only else []),
        *([asyncio.create_task(_login_flood(ports, demo, stats))] if "login" in only else []),
    ]
    await stop.wait()
    await asyncio.sleep(0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _open(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _idle_tcp(port: int, stop: asyncio.Event, stats: Counter[str]) -> None:
    for _ in range(10_000):  # bounded; each round lasts until the server closes the connection
        if stop.is_set():
            return
        try:
            reader, writer = await _open(port, "127.0.0.2")
        except OSError:
            stats["idle_tcp connect failed"] += 1
            await asyncio.sleep(1)
            continue
        stats["idle_tcp opened"] += 1
        try:
            first = await reader.read(12)
            stats["idle_tcp closed by server" + (" with 503" if first.startswith(b"HTTP/1.1 503") else "")] += 1
        except OSError:
            stats["idle_tcp reset"] += 1
        finally:
            writer.close()
        await asyncio.sleep(RECONNECT)


async def _slow_upload(port: int, stop: asyncio.Event, stats: Counter[str]) -> None:
    head = (
        b"POST /v1/x/cloudservers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
    )
    for _ in range(10_000):
        if stop.is_set():
            return
        try:
            reader, writer = await _open(port, "127.0.0.4")
        except OSError:
            stats["slow_upload connect failed"] += 1
            await asyncio.sleep(1)
            continue
        stats["slow_upload opened"] += 1
        try:
            writer.write(head)
            for _ in range(1000):  # one byte a second, at most 1,000 s
                if stop.is_set():
                    break
                writer.write(b" ")
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(12), 1.0)
                except TimeoutError:
                    continue
                if answer:
                    stats["slow_upload answered " + answer.decode(errors="replace")[9:12]] += 1
                else:
                    stats["slow_upload closed"] += 1
                break
        except OSError:
            stats["slow_upload reset"] += 1
        finally:
            writer.close()
        await asyncio.sleep(RECONNECT)


async def _streams(ports: list[int], demo: dict[str, Any], stop: asyncio.Event, stats: Counter[str]) -> None:
    auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            auth=auth,
            timeout=httpx.Timeout(30, read=None),
            transport=httpx.AsyncHTTPTransport(
                local_address="127.0.0.3", limits=httpx.Limits(max_connections=STREAMS)
            ),
        )
        for port in ports
    ]
    path = f"/v1/{demo['project_id']}/events"

    async def one(i: int) -> None:
        client = clients[i % len(clients)]
        for _ in range(1000):
            if stop.is_set():
                return
            wait = 1.0
            try:
                async with client.stream("GET", path) as r:
                    stats[f"stream {r.status_code}"] += 1
                    if r.status_code == 429 and not IGNORE_RETRY_AFTER:
                        wait = float(r.headers.get("Retry-After", "1"))
                    if r.status_code == 200:
                        async for _chunk in r.aiter_bytes():
                            if stop.is_set():
                                return
                        stats["stream ended by server"] += 1
            except httpx.HTTPError as exc:
                stats[f"stream error {type(exc).__name__}"] += 1
            await asyncio.sleep(wait)

    try:
        await asyncio.gather(*(one(i) for i in range(STREAMS)))
    finally:
        for c in clients:
            await c.aclose()


async def _login_flood(ports: list[int], demo: dict[str, Any], stats: Counter[str]) -> None:
    sem = asyncio.Semaphore(LOGIN_CONCURRENCY)
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            transport=httpx.AsyncHTTPTransport(
                local_address="127.0.0.5", limits=httpx.Limits(max_connections=LOGIN_CONCURRENCY)
            ),
        )
        for port in ports
    ]

    async def one(i: int) -> None:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": f"nobody-{uuid.uuid4().hex[:8]}",
                            "password": uuid.uuid4().hex,
                            "domain": {"name": demo["domain_name"]},
                        }
                    },
                },
                "scope": {"project": {"name": demo["project_name"]}},
            }
        }
        async with sem:
            try:
                r = await clients[i % len(clients)].post("/v3/auth/tokens", json=body)
                stats[f"login {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                stats[f"login error {type(exc).__name__}"] += 1

    try:
        await asyncio.gather(*(one(i) for i in range(LOGINS)))
    except asyncio.CancelledError:
        stats["login unfinished at the end"] += LOGINS - sum(
            v for k, v in stats.items() if k.startswith("login ")
        )
        raise
    finally:
        for c in clients:
            await c.aclose()


# --- the legitimate client -------------------------------------------------------------------


class Legit:
    def __init__(self, ports: list[int], demo: dict[str, Any]) -> None:
        auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
        self.clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{p}", auth=auth, timeout=60) for p in ports
        ]
        self.demo = demo
        self.show = f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}"
        self.latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []
        self.statuses: Counter[int | str] = Counter()
        self.reinstalls: Counter[str] = Counter()
        self.stop = threading.Event()
        self.n = 0

    def client(self) -> httpx.Client:
        self.n += 1
        return self.clients[self.n % len(self.clients)]

    def show_once(self) -> None:
        start = time.perf_counter()
        try:
            status: int | str = self.client().get(self.show).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self.latencies.append((time.perf_counter() - start) * 1000)
        self.timeline.append((time.monotonic(), self.latencies[-1]))
        self.statuses[status] += 1

    def probe(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            self.show_once()
            time.sleep(0.02)

    def reinstall_loop(self, seconds: float) -> None:
        d = self.demo
        server = d["servers"]["stopped"]
        body = {"os-reinstall": {"keyname": "demo-key", "userid": d["user_id"], "mode": "withStopServer"}}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                r = self.client().post(f"/v2/{d['project_id']}/cloudservers/{server}/reinstallos", json=body)
            except httpx.HTTPError as exc:
                self.reinstalls[f"request {type(exc).__name__}"] += 1
                continue
            if r.status_code != 200:
                self.reinstalls[f"refused {r.status_code} {r.text[:80]}"] += 1
                time.sleep(1)
                continue
            self.reinstalls["accepted"] += 1
            job = r.json()["job_id"]
            for _ in range(600):  # the job, polled every 0.2 s for at most 120 s
                try:
                    j = self.client().get(f"/v1/{d['project_id']}/jobs/{job}")
                except httpx.HTTPError:
                    self.reinstalls["job poll error"] += 1
                    time.sleep(0.2)
                    continue
                status = j.json().get("status") if j.status_code == 200 else f"http {j.status_code}"
                if status in ("SUCCESS", "FAIL"):
                    self.reinstalls[f"job {status}"] += 1
                    break
                time.sleep(0.2)
            time.sleep(1)


def _served_from(port: int, source: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(source, 0)) as s:
            s.sendall(b"GET /v1/none/jobs/none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 401")
    except OSError:
        return False


def _stream_opens(port: int, demo: dict[str, Any]) -> bool:
    auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=5, transport=transport) as c:
        try:
            with c.stream("GET", f"/v1/{demo['project_id']}/events") as r:
                return r.status_code == 200
        except httpx.HTTPError:
            return False


def _recovery(ports: list[int], demo: dict[str, Any], legit: Legit) -> float:
    """Seconds from the abusers' end until every check passes (at most 30 s)."""
    start = time.monotonic()
    while time.monotonic() - start < 30:
        ok = all(_served_from(p, src) for p in ports for src in ("127.0.0.2", "127.0.0.4"))
        ok = ok and all(_stream_opens(p, demo) for p in ports)
        before = legit.statuses[200]
        legit.show_once()
        if ok and legit.statuses[200] > before:
            return time.monotonic() - start
        time.sleep(0.05)
    return float("inf")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0, help="how long the abuse lasts")
    ap.add_argument("--postgres", default=None, help="PostgreSQL URL: two API processes + a worker")
    args = ap.parse_args()
    with Services(args.postgres) as svc:
        ports, demo = svc.ports, svc.demo
        legit = Legit(ports, demo)
        legit.probe(5)
        base_p99 = _pct(legit.latencies, 99)
        base_n = len(legit.latencies)
        legit.latencies.clear()
        legit.statuses.clear()
        print(f"baseline: {base_n} ShowServer, p99 {base_p99:.0f} ms (load {_load()})", flush=True)
        parent, child = multiprocessing.Pipe()
        abusers = multiprocessing.Process(target=_abusers, args=(ports, demo, args.seconds, child))
        abusers.start()
        time.sleep(3)  # let the abusers open their connections
        t = threading.Thread(target=legit.reinstall_loop, args=(args.seconds - 4,))
        t.start()
        loads = []
        cpu0 = sum(cpu_seconds(pid) for pid in svc.api_pids())
        t0 = time.monotonic()
        rss_peak = 0.0
        deadline = time.monotonic() + args.seconds - 4
        while time.monotonic() < deadline:
            legit.probe(1)
            loads.append(os.getloadavg()[0])
            rss_peak = max(rss_peak, *(hwm_mb(pid) for pid in svc.api_pids()))
        cpu = (sum(cpu_seconds(pid) for pid in svc.api_pids()) - cpu0) / (time.monotonic() - t0)
        legit.stop.set()
        t.join(130)
        abusers.join(60)
        got = parent.recv() if parent.poll(5) else {}
        legit.stop.clear()
        shows = dict(legit.statuses)
        lat = legit.latencies
        recovery = _recovery(ports, demo, legit)
        ok = shows.get(200, 0)
        total = sum(shows.values())
        print(f"\nabuse for {args.seconds:.0f} s against {len(ports)} API process(es), "
              f"{'PostgreSQL' if args.postgres else 'SQLite'}; 1-min load during it "
              f"{min(loads):.1f}-{max(loads):.1f} (now {_load()})")
        print(f"legit ShowServer: {ok}/{total} OK ({100 * ok / max(total, 1):.1f} %), "
              f"p50 {_pct(lat, 50):.0f} ms, p99 {_pct(lat, 99):.0f} ms, max {max(lat):.0f} ms; {shows}")
        print(f"legit reinstalls: {dict(legit.reinstalls)}")
        print(f"API process CPU during the abuse: {cpu * 100:.0f} % of one core")
        print(f"peak RSS (VmHWM) of the API process(es): {rss_peak:.0f} MiB")
        print(f"recovery after the abusers stopped: {recovery:.2f} s")
        if os.environ.get("BENCH_TIMELINE"):
            t0l = legit.timeline[0][0]
            slow = [(round(t - t0l, 1), round(ms)) for t, ms in legit.timeline if ms > 200]
            print(f"ShowServer over 200 ms at (s since start, ms): {slow}")
        print("abusers got:")
        for k, v in sorted(got.items()):
            print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
