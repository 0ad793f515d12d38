"""Reinstall-to-cloud-init-finished wall time on a real QEMU guest, through the API.

    sudo python bench/qemu_reinstall.py [--runs 2]

Starts ``ecslite serve --driver qemu`` on a scratch data dir with one server (2 GiB system
disk, 1 GiB data disk), then reinstalls it ``--runs`` times with a key pair: the first from
SHUTOFF, the next ones from ACTIVE with ``mode: withStopServer``. Prints the wall time from the
API call to job SUCCESS and each step's share (from the job's sub-job records). Needs QEMU and
the Debian 12 image (built on first use: root). Boots one guest at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecslite.services.keypairs import generate_keypair  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    pub, _ = generate_keypair()
    ids = {k: uuid.uuid4().hex for k in ("p", "d", "u")}
    image_id, sid = str(uuid.uuid4()), str(uuid.uuid4())
    seed = {
        "domains": [{"id": ids["d"], "name": "bench"}],
        "users": [{"id": ids["u"], "name": "bench", "domain_id": ids["d"]}],
        "projects": [{"id": ids["p"], "name": "eu-de_bench", "domain_id": ids["d"]}],
        "images": [{"id": image_id, "name": "Debian 12"}],
        "keypairs": [{"user_id": ids["u"], "name": "bench-key", "public_key": pub}],
        "servers": [
            {
                "id": sid,
                "project_id": ids["p"],
                "user_id": ids["u"],
                "name": "bench-1",
                "image_id": image_id,
                "status": "SHUTOFF",
                "system_disk": {"id": str(uuid.uuid4()), "size_gb": 2},
                "data_disks": [{"id": str(uuid.uuid4()), "size_gb": 1}],
            }
        ],
    }
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp_s:
        tmp = Path(tmp_s)
        data = tmp / "data"
        (tmp / "seed.yaml").write_text(yaml.safe_dump(seed))
        py = [sys.executable, "-m", "ecslite"]
        subprocess.run(
            [*py, "image", "build", "debian-12", "--id", image_id, "--data-dir", str(data)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = _port()
        log = (tmp / "serve.log").open("wb")
        proc = subprocess.Popen(
            [*py, "serve", "--driver", "qemu", "--data-dir", str(data), "--port", str(port),
             "--seed", str(tmp / "seed.yaml")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/v1/x/jobs/x", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            print(f"{'run':>3} {'from':>8} {'wall s':>7}  steps (s)")
            for run in range(args.runs):
                body: dict[str, object] = {"keyname": "bench-key", "userid": ids["u"]}
                if run > 0:
                    body["mode"] = "withStopServer"
                t0 = time.monotonic()
                r = httpx.post(
                    f"{base}/v2/{ids['p']}/cloudservers/{sid}/reinstallos",
                    json={"os-reinstall": body},
                    timeout=30,
                )
                r.raise_for_status()
                job_id = r.json()["job_id"]
                while True:
                    job = httpx.get(f"{base}/v1/{ids['p']}/jobs/{job_id}", timeout=10).json()
                    if job["status"] in ("SUCCESS", "FAIL"):
                        break
                    time.sleep(0.5)
                wall = time.monotonic() - t0
                steps = " ".join(
                    f"{s['job_type']}={_ts(s['end_time']) - _ts(s['begin_time']):.1f}"
                    for s in job["entities"]["sub_jobs"]
                )
                origin = "ACTIVE" if run > 0 else "SHUTOFF"
                print(f"{run + 1:>3} {origin:>8} {wall:7.1f}  {job['status']} {steps}", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            for pidfile in data.glob("servers/*/qemu.pid"):
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
