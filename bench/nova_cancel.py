"""How long Nova's delete of a server still being built takes, against a real ``ecslite serve
--demo --sim-delay D``: the create job is cancelled at its next step boundary and rolled back,
then the answer (204) comes; compared with the delete of an ACTIVE server and with a create.

    .venv/bin/python -m bench.nova_cancel [--rounds 5] [--delay 0.5]

Expected shape: the running step's remainder (at most D) plus the rollback's driver calls
(power off, detach, delete disk: about 3 D) plus polling, against ~0 for an idle server.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import free_port, loadavg, wait_port


def _token(base: str, demo: dict[str, Any]) -> str:
    login = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": demo["user_name"],
                        "password": demo["password"],
                        "domain": {"name": demo["domain_name"]},
                    }
                },
            },
            "scope": {"project": {"id": demo["project_id"]}},
        }
    }
    resp = httpx.post(f"{base}/v3/auth/tokens", json=login, timeout=30)
    resp.raise_for_status()
    return resp.headers["X-Subject-Token"]


def _until(fn: Any, cond: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if cond(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(value)
        time.sleep(0.05)


def run(rounds: int, delay: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        data = Path(tmp) / "data"
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecslite", "serve", "--demo", "--data-dir", str(data),
             "--port", str(port), "--sim-delay", str(delay)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_port(port, timeout=60, proc=proc)
            demo = json.loads((data / "demo.json").read_text())
            base = f"http://127.0.0.1:{port}"
            compute = f"{base}/v2.1/{demo['project_id']}"
            http = httpx.Client(
                headers={
                    "X-Auth-Token": _token(base, demo),
                    "OpenStack-API-Version": "compute 2.60",
                },
                timeout=600,
            )
            body = {
                "server": {
                    "name": "bench",
                    "imageRef": demo["images"]["cloudinit"],
                    "flavorRef": "s3.small.1",
                    "networks": "none",
                    "adminPass": "Bench-Pass-2026",
                }
            }

            def status(sid: str) -> str:
                resp = http.get(f"{compute}/servers/{sid}")
                return "GONE" if resp.status_code == 404 else str(resp.json()["server"]["status"])

            create, building, idle = [], [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                sid = http.post(f"{compute}/servers", json=body).json()["server"]["id"]
                _until(lambda s=sid: status(s), lambda st: st == "ACTIVE")
                create.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                assert http.delete(f"{compute}/servers/{sid}").status_code == 204
                _until(lambda s=sid: status(s), lambda st: st == "GONE")
                idle.append(time.perf_counter() - t0)

                sid = http.post(f"{compute}/servers", json=body).json()["server"]["id"]
                _until(lambda s=sid: status(s), lambda st: st == "BUILD")
                t0 = time.perf_counter()
                assert http.delete(f"{compute}/servers/{sid}").status_code == 204
                _until(lambda s=sid: status(s), lambda st: st == "GONE")
                building.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(30)
    return {
        "delay_s": delay,
        "rounds": rounds,
        "create_to_active_s": statistics.median(create),
        "delete_active_to_gone_s": statistics.median(idle),
        "delete_build_to_gone_s": statistics.median(building),
        "loadavg": loadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--delay", type=float, default=0.5)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.rounds, args.delay), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
