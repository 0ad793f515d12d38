"""``ecslite jobs cancel`` against a real ``ecslite serve --enable-admin`` whose sim steps take
time: a running reinstall is cancelled and rolled back (FAIL, Ecs.0099), the server is as it was
and takes a new reinstall; cancelling a job that has ended, or one that does not exist, is
refused with a message and a non-zero exit code, and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import Service, poll

pytestmark = pytest.mark.process

SIM_DELAY = "1.0"  # each driver call: the reinstall runs ~10 s before its point of no return


def ecslite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecslite", *args], capture_output=True, text=True, timeout=120
    )


def test_cancel_a_running_reinstall_then_an_ended_job(tmp_path: Path, database_url: str) -> None:
    svc = Service(
        tmp_path / "data", "--enable-admin", "--sim-delay", SIM_DELAY, database_url=database_url
    )
    svc.start()
    try:
        demo = svc.demo
        project, sid = demo["project_id"], demo["servers"]["stopped"]
        http = svc.http()

        def server() -> dict[str, Any]:
            return dict(http.get(f"/v1/{project}/cloudservers/{sid}").json()["server"])

        def job(job_id: str) -> dict[str, Any]:
            return dict(http.get(f"/v1/{project}/jobs/{job_id}").json())

        def reinstall() -> str:
            resp = http.post(
                f"/v2/{project}/cloudservers/{sid}/reinstallos",
                json={"os-reinstall": {"adminpass": "Cancel-Passw0rd"}},
            )
            assert resp.status_code == 200, resp.text
            return str(resp.json()["job_id"])

        before = server()
        disks_before = before["os-extended-volumes:volumes_attached"]
        job_id = reinstall()
        poll(lambda: job(job_id)["status"], until="RUNNING".__eq__, timeout=30)

        out = ecslite("jobs", "cancel", job_id, "--wait", "--endpoint", svc.endpoint)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "cancel requested" in out.stdout
        assert f"{job_id}: FAIL Ecs.0099" in out.stdout

        ended = job(job_id)
        assert (ended["status"], ended["error_code"]) == ("FAIL", "Ecs.0099")
        # Rolled back: the server is stopped on its old system disk, as before, and not held.
        after = server()
        assert after["status"] == before["status"] == "SHUTOFF"
        assert after["OS-EXT-STS:task_state"] in ("", None)
        assert after["os-extended-volumes:volumes_attached"] == disks_before
        assert "fault" not in after or not after["fault"]

        # The server takes the next operation.
        again = reinstall()
        done = poll(lambda: job(again), until=lambda j: j["status"] in ("SUCCESS", "FAIL"))
        assert done["status"] == "SUCCESS", done

        # An ended job: refused, with what it is, and nothing about it changes.
        for ended_id, status in ((job_id, "FAIL"), (again, "SUCCESS")):
            out = ecslite("jobs", "cancel", ended_id, "--endpoint", svc.endpoint)
            assert out.returncode == 1
            assert (
                f"HTTP 409 Ecs.0005: The job has already ended. Job {ended_id} ended {status}"
                in (out.stderr)
            )
            assert job(ended_id)["status"] == status
        shown = json.loads(
            http.get(f"/_ecslite/admin/jobs/{again}").text  # the admin view the CLI polls
        )["job"]
        assert (shown["status"], shown["cancel_requested"], shown["cancelled"]) == (
            "SUCCESS",
            False,
            False,
        )

        out = ecslite("jobs", "cancel", "no-such-job", "--endpoint", svc.endpoint)
        assert out.returncode == 1 and "No job no-such-job" in out.stderr
        # A cancel takes no parameters: one it does not know is refused.
        resp = http.post(f"/_ecslite/admin/jobs/{again}/cancel", json={"force": True})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "Ecs.0005"
    finally:
        svc.stop()
