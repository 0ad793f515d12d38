"""From the reinstall API call to an SSH login that works, on a real QEMU guest.

    python -m bench.qemu_ssh [--runs 1] [--keep]

The user journey of the README: ``ecslite serve --driver qemu --demo`` on a scratch data dir,
wait for the demo's running guest to finish booting (so it does not share the measurement),
import a new key pair, reinstall the ``stopped`` server with it, then try ``ssh -i new_key``
every half second. Prints, per run: API call → job SUCCESS, API call → first SSH login,
each step's duration, the guest's own view of its boot (``systemd-analyze`` over SSH) and
whether the demo key pair that was there before is refused. Calls are AK/SK-signed.
Needs QEMU, ssh and the Debian 12 image (built on first use: root).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecslite.auth.httpx_auth import SdkHmacAuth  # noqa: E402
from tests.support import free_port  # noqa: E402


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def ssh(
    port: int, key: Path, command: str, timeout: float = 15
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as root on the guest behind 127.0.0.1:``port`` with ``key`` only."""
    return subprocess.run(
        ["ssh", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes",
         "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
         "-o", "LogLevel=ERROR", "root@127.0.0.1", command],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class Journey:
    def __init__(self, base: str, demo: dict[str, Any]) -> None:
        self.base = base
        self.p = demo["project_id"]
        self.demo = demo
        self.http = httpx.Client(
            base_url=base,
            auth=SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"]),
            timeout=30,
        )

    def server(self, sid: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/{self.p}/cloudservers/{sid}")
        r.raise_for_status()
        return dict(r.json()["server"])

    def console(self, sid: str) -> str:
        r = self.http.get(f"/v1/{self.p}/cloudservers/{sid}/console-output", params={"length": -1})
        return str(r.json().get("output", "")) if r.status_code == 200 else ""

    def import_key(self, name: str, public_key: str) -> None:
        r = self.http.post(
            f"/v2.1/{self.p}/os-keypairs",
            json={"keypair": {"name": name, "public_key": public_key}},
        )
        r.raise_for_status()

    def reinstall(self, sid: str, keyname: str, stop: bool) -> str:
        body: dict[str, Any] = {"keyname": keyname, "userid": self.demo["user_id"]}
        if stop:
            body["mode"] = "withStopServer"
        r = self.http.post(
            f"/v2/{self.p}/cloudservers/{sid}/reinstallos", json={"os-reinstall": body}
        )
        r.raise_for_status()
        return str(r.json()["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/{self.p}/jobs/{job_id}")
        r.raise_for_status()
        return dict(r.json())


# A file on the old system disk: absent once the guest runs the reinstalled system.
OLD_MARKER = "/root/.ecslite-bench-old-system"
NEW_SYSTEM = f"test ! -e {OLD_MARKER}"


def run_once(j: Journey, sid: str, key: Path, keyname: str, stop: bool) -> dict[str, Any]:
    t0 = time.monotonic()
    job_id = j.reinstall(sid, keyname, stop)
    done: dict[str, Any] | None = None
    t_success = t_ssh = None
    deadline = t0 + 900
    port: int | None = None
    while time.monotonic() < deadline and (t_ssh is None or done is None):
        if done is None:
            job = j.job(job_id)
            if job["status"] in ("SUCCESS", "FAIL"):
                done, t_success = job, time.monotonic() - t0
                if job["status"] == "FAIL":
                    break
        if port is None:
            fwd = j.server(sid)["metadata"].get("ssh_forward")
            port = int(fwd.rsplit(":", 1)[1]) if fwd else None
        # Only the new system counts: a reinstall of a running server leaves the old guest
        # (already holding the key after an earlier run) answering until it is stopped.
        if t_ssh is None and port is not None and ssh(port, key, NEW_SYSTEM, 8).returncode == 0:
            t_ssh = time.monotonic() - t0
        time.sleep(0.5)
    assert done is not None, "the job did not end"
    steps = {
        s["job_type"]: round(_ts(s["end_time"]) - _ts(s["begin_time"]), 1)
        for s in done["entities"]["sub_jobs"]
        if s.get("end_time")
    }
    return {"status": done["status"], "success_s": t_success, "ssh_s": t_ssh, "steps": steps,
            "port": port, "fail_reason": done.get("fail_reason")}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1, help="reinstalls of the stopped server")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir (and its log)")
    args = ap.parse_args()
    if shutil.which("ssh") is None or shutil.which("qemu-system-x86_64") is None:
        print("needs ssh and qemu-system-x86_64")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ecslite-bench-ssh-", dir="/var/tmp"))
    data = tmp / "data"
    port = free_port()
    log = (tmp / "serve.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecslite", "serve", "--driver", "qemu", "--demo",
         "--data-dir", str(data), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        while not (data / "demo.json").exists() or _down(base):
            if proc.poll() is not None or time.monotonic() - started > 600:
                print((tmp / "serve.log").read_text()[-3000:])
                return 1
            time.sleep(0.5)
        demo = json.loads((data / "demo.json").read_text())
        j = Journey(base, demo)
        running = demo["servers"]["running"]
        while "finished at" not in j.console(running):
            if time.monotonic() - started > 900:
                print("the demo's running guest did not finish booting")
                return 1
            time.sleep(1)
        print(
            f"service up and the demo's running guest booted in {time.monotonic() - started:.0f} s"
        )
        key = tmp / "new_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        j.import_key("bench-new-key", (tmp / "new_key.pub").read_text().strip())
        old_key = data / "demo-key.pem"
        sid = demo["servers"]["stopped"]
        print(f"{'run':>3} {'status':>7} {'→SUCCESS s':>10} {'→SSH s':>7}  old key  steps (s)")
        for i in range(args.runs):
            r = run_once(j, sid, key, "bench-new-key", stop=i > 0)
            refused = r["port"] is not None and ssh(r["port"], old_key, "true").returncode != 0
            steps = " ".join(f"{k}={v}" for k, v in r["steps"].items())
            ssh_s = f"{r['ssh_s']:.1f}" if r["ssh_s"] else "-"
            print(f"{i + 1:>3} {r['status']:>7} {r['success_s'] or 0:>10.1f} {ssh_s:>7}  "
                  f"{'refused' if refused else 'ACCEPTED'}  {steps}", flush=True)  # fmt: skip
            if r["status"] == "SUCCESS" and r["port"] is not None:
                ssh(r["port"], key, f"touch {OLD_MARKER}", 30)  # for the next run's check
            if r["status"] != "SUCCESS":
                print(r["fail_reason"])
            elif r["port"] is not None:
                try:
                    blame = ssh(
                        r["port"], key, "systemd-analyze; systemd-analyze blame | head -12", 120
                    )
                    print("guest: " + blame.stdout.replace("\n", "\n       ").rstrip())
                except subprocess.TimeoutExpired:
                    print("guest: systemd-analyze did not answer within 120 s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        subprocess.run(
            [sys.executable, "-m", "ecslite", "guests", "stop", "--data-dir", str(data)],
            capture_output=True, check=False, cwd=ROOT, timeout=120,
        )  # fmt: skip
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _down(base: str) -> bool:
    try:
        httpx.get(f"{base}/v3", timeout=1)
        return False
    except httpx.HTTPError:
        return True


if __name__ == "__main__":
    sys.exit(main())
