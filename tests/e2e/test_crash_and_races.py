"""A killed service resumes its jobs; concurrent requests on one server accept exactly one."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import TERMINAL, Service, poll


def _job(svc: Service, job_id: str) -> dict[str, Any]:
    with svc.http() as http:
        resp = http.get(f"/v1/{svc.demo['project_id']}/jobs/{job_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _server(svc: Service, sid: str) -> dict[str, Any]:
    with svc.http() as http:
        resp = http.get(f"/v1/{svc.demo['project_id']}/cloudservers/{sid}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["server"])


def _reinstall(
    svc: Service, sid: str, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    demo = svc.demo
    body = fields or {"keyname": demo["keypair"]["name"], "userid": demo["user_id"]}
    with svc.http() as http:
        return http.post(
            f"/v2/{demo['project_id']}/cloudservers/{sid}/reinstallos",
            json={"os-reinstall": body},
            headers=headers,
        )


@pytest.mark.parametrize("kill_after_steps", [0, 2, 4])
def test_sigkill_mid_job_then_restart_finishes_the_job(
    tmp_path: Path, database_url: str, kill_after_steps: int
) -> None:
    svc = Service(tmp_path / "data", "--sim-delay", "0.4", database_url=database_url).start()
    sid = svc.demo["servers"]["running"]
    try:
        job_id = _reinstall(svc, sid, adminpass="!QAZxsw2", mode="withStopServer").json()["job_id"]

        def done_steps() -> int:
            subs = _job(svc, job_id)["entities"]["sub_jobs"]
            return sum(s["status"] == "SUCCESS" for s in subs)

        poll(done_steps, until=lambda n: n >= kill_after_steps, timeout=30)
        assert _job(svc, job_id)["status"] == "RUNNING"
        svc.kill()
    finally:
        svc.kill()

    restarted = Service(tmp_path / "data", port=svc.port, database_url=database_url).start()
    try:
        job = poll(
            lambda: _job(restarted, job_id), until=lambda j: j["status"] in TERMINAL, timeout=60
        )
        assert job["status"] == "SUCCESS", job
        steps = job["entities"]["sub_jobs"]
        assert all(s["status"] == "SUCCESS" for s in steps)
        server = _server(restarted, sid)
        assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
        system = [
            v for v in server["os-extended-volumes:volumes_attached"] if v["bootIndex"] == "0"
        ]
        assert len(system) == 1
        if database_url.startswith("sqlite"):
            assert "recovery resumed_jobs=1" in restarted.log()
    finally:
        restarted.stop()


def test_concurrent_reinstalls_on_one_server_accept_exactly_one(service: Service) -> None:
    sid = service.demo["servers"]["stopped"]
    with ThreadPoolExecutor(max_workers=10) as pool:
        # Ten different requests (each its own client token), so that the store's
        # compare-and-swap picks one, not the refusal of identical signed requests (replays).
        responses = list(
            pool.map(lambda i: _reinstall(service, sid, {"X-Client-Token": f"race-{i}"}), range(10))
        )
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(accepted) == 1, [r.text for r in responses]
    assert all(r.status_code == 400 and r.json()["error"]["code"] == "Ecs.0100" for r in refused)
    job = poll(
        lambda: _job(service, accepted[0].json()["job_id"]), until=lambda j: j["status"] in TERMINAL
    )
    assert job["status"] == "SUCCESS"


def test_cli_reinstall_watch_shows_steps_until_success(service: Service) -> None:
    demo = service.demo
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "reinstall",
            demo["servers"]["stopped"],
            "--data-dir",
            str(service.data_dir),
            "--keyname",
            demo["keypair"]["name"],
            "--userid",
            demo["user_id"],
            "--watch",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "step 7/7 deleteOldSystemDisk" in out.stdout and "SUCCESS" in out.stdout.splitlines()[-1]
    job_id = out.stdout.split()[1]
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "jobs",
            "show",
            job_id,
            "--data-dir",
            str(service.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode == 0 and '"status": "SUCCESS"' in shown.stdout


def test_cli_reports_a_refusal_clearly(service: Service) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecslite",
            "reinstall",
            service.demo["servers"]["running"],
            "--data-dir",
            str(service.data_dir),
            "--password-stdin",
        ],
        input="!QAZxsw2\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "Ecs.0100" in out.stderr and "withStopServer" in out.stderr
