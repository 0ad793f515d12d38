"""Crash matrix for the create, delete and reboot jobs: the service dies (exit 137) before,
inside and after every step, is restarted, and each time the job ends and nothing is orphaned:

- create: job SUCCESS, every sub-job SUCCESS once, the server ACTIVE with exactly its system
  and data disk attached, no volume record left detached; a crash at the start of a create's
  rollback resumes it (job FAIL, no server, no volume, no port left);
- delete: job SUCCESS, the server gone (404), its system disk's record gone, the data disk
  kept detached;
- reboot: job SUCCESS, the server ACTIVE and free.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.e2e.test_crash_matrix import (
    FAST_LEASES,
    POINTS,
    Case,
    _get,
    _volumes,
    _wait,
    run_cases,
)
from tests.support import Service

REPS = int(os.environ.get("ECSLITE_CRASH_REPS", "1"))


def _unfinished(database_url: str, job_type: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        job_id = conn.execute(
            text("SELECT id FROM jobs WHERE job_type = :t AND status IN ('INIT', 'RUNNING')"),
            {"t": job_type},
        ).scalar_one()
    engine.dispose()
    return str(job_id)


def _create_body(demo: dict[str, Any]) -> dict[str, Any]:
    return {
        "server": {
            "name": "crash",
            "imageRef": demo["images"]["cloudinit"],
            "flavorRef": "s6.small.1",
            "vpcid": demo["vpc_id"],
            "nics": [{"subnet_id": demo["subnet_id"]}],
            "data_volumes": [{"volumetype": "SAS", "size": 10}],
            "adminPass": "Crash-Test-1",
        }
    }


Submit = Callable[[httpx.Client, dict[str, Any]], httpx.Response]


def _crash_and_recover(
    data: Path, database_url: str, failpoint: str, submit: Submit, job_type: str
) -> tuple[Service, str]:
    crashing = Service(
        data, database_url=database_url, env={**FAST_LEASES, "ECSLITE_FAILPOINTS": failpoint}
    ).start()
    try:
        try:
            with crashing.http() as http:
                resp = submit(http, crashing.demo)
            assert resp.status_code == 200, resp.text
            job_id = str(resp.json()["job_id"])
        except httpx.TransportError:
            job_id = _unfinished(database_url, job_type)
        assert crashing.proc is not None
        code = crashing.proc.wait(60)
        assert code == 137, f"{failpoint}: exit {code}\n{crashing.log()[-2000:]}"
    finally:
        crashing.kill()
    restarted = Service(
        data, port=crashing.port, database_url=database_url, env=FAST_LEASES
    ).start()
    return restarted, job_id


def _create(http: httpx.Client, demo: dict[str, Any]) -> httpx.Response:
    return http.post(f"/v1/{demo['project_id']}/cloudservers", json=_create_body(demo))


def _create_problems(svc: Service, database_url: str, job: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    subs = job["entities"]["sub_jobs"]
    if job["status"] != "SUCCESS" or any(s["status"] != "SUCCESS" for s in subs):
        problems.append(f"job {job['status']} {[(s['job_type'], s['status']) for s in subs]}")
    sid = job["entities"]["server_id"]
    server = _get(svc, f"/v1/{svc.demo['project_id']}/cloudservers/{sid}")["server"]
    if (server["status"], server["OS-EXT-STS:task_state"]) != ("ACTIVE", None):
        problems.append(f"server {server['status']}/{server['OS-EXT-STS:task_state']}")
    attached = sorted(v["bootIndex"] for v in server["os-extended-volumes:volumes_attached"])
    if attached != ["-1", "0"]:
        problems.append(f"attachments {attached}")
    loose = [r["id"] for r in _volumes(database_url, svc.demo["project_id"]) if not r["server_id"]]
    if loose:
        problems.append(f"detached volume records left behind: {loose}")
    return problems


def test_create_survives_a_crash_at_every_step(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    svc = Service(data, database_url=database_url, env=FAST_LEASES).start()
    with svc.http() as http:
        job_id = _create(http, svc.demo).json()["job_id"]
    steps = [s["job_type"] for s in _wait(svc, job_id)["entities"]["sub_jobs"]]
    svc.stop()
    assert len(steps) == 6
    # Last step first within each point: a recovering process can carry the next failpoint.
    cases = [
        Case(f"{point}:{step}", steps.index(step), f"{point}:{step} rep {rep}")
        for rep in range(REPS)
        for point in POINTS
        for step in reversed(steps)
    ]
    failures: list[str] = []

    def check(restarted: Service, case: Case, job_id: str) -> None:
        job = _wait(restarted, job_id)
        for problem in _create_problems(restarted, database_url, job):
            failures.append(f"{case.label}: {problem}")

    def submit(svc: Service) -> str:
        with svc.http() as http:
            resp = _create(http, svc.demo)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["job_id"])

    run_cases(
        data,
        database_url,
        cases,
        submit=submit,
        unfinished=lambda: _unfinished(database_url, "createServer"),
        check=check,
    )
    assert not failures, "\n".join(failures)


def test_crash_in_a_create_rollback_resumes_it(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    first = Service(data, "--enable-admin", database_url=database_url).start()
    with first.http() as http:
        fault = {"step": "startServer", "times": 1, "message": "no boot"}
        assert http.post("/_ecslite/admin/faults", json=fault).status_code == 201
    before = len(_volumes(database_url, first.demo["project_id"]))
    first.stop()
    restarted, job_id = _crash_and_recover(
        data, database_url, "rollback:startServer", _create, "createServer"
    )
    try:
        job = _wait(restarted, job_id)
        assert job["status"] == "FAIL" and job["fail_reason"] == "no boot", job
        sid = job["entities"]["server_id"]
        with restarted.http() as http:
            resp = http.get(f"/v1/{restarted.demo['project_id']}/cloudservers/{sid}")
        assert resp.status_code == 404
        assert len(_volumes(database_url, restarted.demo["project_id"])) == before
    finally:
        restarted.stop()


def _reboot(http: httpx.Client, demo: dict[str, Any]) -> httpx.Response:
    return http.post(
        f"/v1/{demo['project_id']}/cloudservers/action",
        json={"reboot": {"type": "HARD", "servers": [{"id": demo["servers"]["running"]}]}},
    )


def test_delete_and_reboot_survive_a_crash_at_every_point(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    failures: list[str] = []
    for point in POINTS:
        # A fresh server (with a data disk) to delete at each point.
        svc = Service(data, database_url=database_url, env=FAST_LEASES).start()
        demo = svc.demo
        with svc.http() as http:
            created = _create(http, demo).json()
        sid = created["serverIds"][0]
        assert _wait(svc, created["job_id"])["status"] == "SUCCESS"
        disks = _get(svc, f"/v1/{demo['project_id']}/cloudservers/{sid}")["server"][
            "os-extended-volumes:volumes_attached"
        ]
        data_disk = next(v["id"] for v in disks if v["bootIndex"] != "0")
        svc.stop()

        def delete(http: httpx.Client, demo: dict[str, Any], sid: str = sid) -> httpx.Response:
            return http.post(
                f"/v1/{demo['project_id']}/cloudservers/delete",
                json={"servers": [{"id": sid}], "delete_volume": False},
            )

        svc, job_id = _crash_and_recover(
            data, database_url, f"{point}:deleteServer", delete, "deleteServer"
        )
        try:
            if _wait(svc, job_id)["status"] != "SUCCESS":
                failures.append(f"{point}: delete job did not succeed")
            with svc.http() as http:
                gone = http.get(f"/v1/{demo['project_id']}/cloudservers/{sid}")
            if gone.status_code != 404:
                failures.append(f"{point}: deleted server answers {gone.status_code}")
            rows = {r["id"]: r for r in _volumes(database_url, demo["project_id"])}
            if rows.get(data_disk, {}).get("status") != "available":
                failures.append(f"{point}: data disk {rows.get(data_disk)}")
            if any(r["server_id"] == sid for r in rows.values()):
                failures.append(f"{point}: a volume still names the deleted server")
        finally:
            svc.stop()
        svc, job_id = _crash_and_recover(
            data, database_url, f"{point}:rebootServer", _reboot, "batchRebootServers"
        )
        try:
            job = _wait(svc, job_id)
            server = _get(
                svc, f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}"
            )["server"]
            if job["status"] != "SUCCESS" or server["status"] != "ACTIVE":
                failures.append(f"{point}: reboot {job['status']}, server {server['status']}")
        finally:
            svc.stop()
    assert not failures, "\n".join(failures)


def _change_os(http: httpx.Client, demo: dict[str, Any]) -> httpx.Response:
    sid = demo["servers"]["running"]
    body = {
        "os-change": {
            "imageid": demo["images"]["alt"],
            "adminpass": "Crash-Test-1",
            "mode": "withStopServer",
        }
    }
    return http.post(f"/v2/{demo['project_id']}/cloudservers/{sid}/changeos", json=body)


def test_change_os_survives_crashes_around_its_disk_swap(tmp_path: Path, database_url: str) -> None:
    # Change OS is the reinstall job (whose every step the reinstall crash matrix covers) with
    # another image: here the points where the image switch could be lost or half-applied.
    data = tmp_path / "data"
    for failpoint in ("after_act:createSystemDisk", "before_act:deleteOldSystemDisk"):
        svc, job_id = _crash_and_recover(data, database_url, failpoint, _change_os, "changeOS")
        try:
            job = _wait(svc, job_id)
            demo = svc.demo
            server = _get(
                svc, f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}"
            )["server"]
            assert job["status"] == "SUCCESS", (failpoint, job)
            assert server["status"] == "ACTIVE" and server["image"]["id"] == demo["images"]["alt"]
            loose = [r for r in _volumes(database_url, demo["project_id"]) if not r["server_id"]]
            assert not loose, (failpoint, loose)
        finally:
            svc.stop()
