"""CPU the health/metrics layer adds to each request: ``api/monitor.Monitor`` around an ASGI app
that only answers, against the bare app, called directly (no HTTP, no client on the same cores).

    .venv/bin/python -m bench.monitor_overhead [--n 50000] [--rounds 5]

Prints the minimum over the rounds of CPU time (``time.process_time``) per request for each,
and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import loadavg
from ecslite.api.monitor import Monitor
from ecslite.bootstrap import build
from ecslite.config import Settings


class _Route:
    path = "/v1/{project_id}/jobs/{job_id}"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = _Route  # as the router leaves it
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: Any) -> None:
    pass


async def _run(app: Any, n: int) -> float:
    scope = {"type": "http", "path": "/v1/p/jobs/j", "method": "GET", "headers": []}
    t0 = time.process_time()
    for _ in range(n):
        await app(dict(scope), _receive, _send)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    container = build(Settings(data_dir=Path(tempfile.mkdtemp(prefix="ecslite-monitor-"))))
    wrapped = Monitor(_app, monitoring=container.monitoring)

    async def measure() -> tuple[float, float]:
        plain, monitored = [], []
        for _ in range(args.rounds):
            plain.append(await _run(_app, args.n))
            monitored.append(await _run(wrapped, args.n))
        return min(plain) / args.n * 1e6, min(monitored) / args.n * 1e6

    load = loadavg()
    try:
        bare, with_monitor = asyncio.run(measure())
    finally:
        container.close()
    print(f"load (1 min) at start: {load[0]}")
    print("| app | CPU us/request |\n| --- | --- |")
    print(f"| bare | {bare:.2f} |\n| with Monitor | {with_monitor:.2f} |")
    print(f"| added | {with_monitor - bare:.2f} |")


if __name__ == "__main__":
    main()
