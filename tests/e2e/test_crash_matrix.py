"""Crash matrix: the service dies (exit 137, as with SIGKILL) at every step boundary and inside
every step of a reinstall, is restarted, and the invariants hold every time:

- the job ends (SUCCESS here: nothing failed but the process) within a bound, never RUNNING;
- the server is ACTIVE on exactly one attached system disk whose volume record exists;
- the data disk keeps its id and attachment;
- no volume record is left detached or orphaned, no sub-job ran to SUCCESS twice;
and a crash at the start of a rollback resumes the rollback (job FAIL, server on its old disk).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.support import TERMINAL, Service, poll

POINTS = ("before_act", "after_act", "after_record")
REPS = int(os.environ.get("ECSLITE_CRASH_REPS", "2"))
FAST_LEASES = {"ECSLITE_LEASE_SECONDS": "2"}


def _reinstall(svc: Service, sid: str) -> str:
    with svc.http() as http:
        resp = http.post(
            f"/v2/{svc.demo['project_id']}/cloudservers/{sid}/reinstallos",
            json={"os-reinstall": {"adminpass": "Crash-Test-1", "mode": "withStopServer"}},
        )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["job_id"])


def _get(svc: Service, path: str) -> dict[str, Any]:
    with svc.http() as http:
        resp = http.get(path)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _wait(svc: Service, job_id: str) -> dict[str, Any]:
    path = f"/v1/{svc.demo['project_id']}/jobs/{job_id}"
    return dict(poll(lambda: _get(svc, path), until=lambda j: j["status"] in TERMINAL, timeout=90))


def _volumes(database_url: str, project: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = (
            conn.execute(text("SELECT * FROM volumes WHERE project_id = :p"), {"p": project})
            .mappings()
            .all()
        )
    engine.dispose()
    return [dict(r) for r in rows]


def _unfinished_job(database_url: str, sid: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        job_id = conn.execute(
            text("SELECT id FROM jobs WHERE server_id = :s AND status IN ('INIT', 'RUNNING')"),
            {"s": sid},
        ).scalar_one()
    engine.dispose()
    return str(job_id)


def _crash_and_recover(
    data: Path, database_url: str, sid: str, failpoint: str, *, admin: tuple[str, ...] = ()
) -> tuple[Service, str]:
    """Start with ``failpoint`` armed, reinstall, see the process die, restart; return both."""
    crashing = Service(
        data,
        *admin,
        database_url=database_url,
        env={**FAST_LEASES, "ECSLITE_FAILPOINTS": failpoint},
    )
    crashing.start()
    try:
        try:
            job_id = _reinstall(crashing, sid)
        except httpx.TransportError:
            # The runner starts at once and may reach the failpoint before the HTTP answer is
            # written: the job was committed before the crash, so find it in the store.
            job_id = _unfinished_job(database_url, sid)
        assert crashing.proc is not None
        code = crashing.proc.wait(60)
        assert code == 137, f"{failpoint}: exit {code}\n{crashing.log()[-2000:]}"
    finally:
        crashing.kill()
    restarted = Service(
        data, *admin, port=crashing.port, database_url=database_url, env=FAST_LEASES
    ).start()
    return restarted, job_id


def _check_invariants(
    svc: Service, database_url: str, sid: str, data_disk: str, job: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    if job["status"] != "SUCCESS":
        problems.append(f"job {job['status']}: {job.get('fail_reason')}")
    subs = job["entities"]["sub_jobs"]
    if len({s["job_id"] for s in subs}) != len(subs) or any(s["status"] != "SUCCESS" for s in subs):
        problems.append(f"sub-jobs: {[(s['job_type'], s['status']) for s in subs]}")
    server = _get(svc, f"/v1/{svc.demo['project_id']}/cloudservers/{sid}")["server"]
    if (server["status"], server["OS-EXT-STS:task_state"]) != ("ACTIVE", None):
        problems.append(f"server {server['status']}/{server['OS-EXT-STS:task_state']}")
    attached = server["os-extended-volumes:volumes_attached"]
    system = [v["id"] for v in attached if v["bootIndex"] == "0"]
    data = [v["id"] for v in attached if v["bootIndex"] != "0"]
    if len(system) != 1 or data != [data_disk]:
        problems.append(f"attachments {attached}")
    rows = {
        r["id"]: r
        for r in _volumes(database_url, svc.demo["project_id"])
        if r["server_id"] in (sid, None)
    }
    loose = [r["id"] for r in rows.values() if r["server_id"] is None]
    if loose:
        problems.append(f"detached volume records left behind: {loose}")
    if system and system[0] not in rows:
        problems.append("attached system disk has no volume record")
    return problems


def test_crash_at_every_step_boundary_and_inside_every_step(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    svc = Service(data, database_url=database_url, env=FAST_LEASES).start()
    sid = svc.demo["servers"]["running"]
    data_disk = svc.demo["volumes"]["running_data"]
    steps = [s["job_type"] for s in _wait(svc, _reinstall(svc, sid))["entities"]["sub_jobs"]]
    svc.stop()
    assert len(steps) >= 7

    failures: list[str] = []
    cases = 0
    for step in steps:
        for point in POINTS:
            for rep in range(REPS):
                restarted, job_id = _crash_and_recover(data, database_url, sid, f"{point}:{step}")
                try:
                    job = _wait(restarted, job_id)
                    for problem in _check_invariants(restarted, database_url, sid, data_disk, job):
                        failures.append(f"{point}:{step} rep {rep}: {problem}")
                finally:
                    restarted.stop()
                cases += 1
    assert cases == len(steps) * len(POINTS) * REPS
    assert not failures, "\n".join(failures)


def test_crash_at_the_start_of_a_rollback_resumes_the_rollback(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    admin = ("--enable-admin",)
    first = Service(data, *admin, database_url=database_url).start()
    sid = first.demo["servers"]["running"]
    before = _get(first, f"/v1/{first.demo['project_id']}/cloudservers/{sid}")["server"]
    first.stop()
    for step in ("detachSystemDisk", "createSystemDisk", "attachSystemDisk"):
        for rep in range(REPS):
            seeder = Service(data, *admin, database_url=database_url).start()
            with seeder.http() as http:
                resp = http.post("/_ecslite/admin/faults", json={"step": step, "server_id": sid})
            assert resp.status_code == 201
            seeder.stop()
            restarted, job_id = _crash_and_recover(
                data, database_url, sid, f"rollback:{step}", admin=admin
            )
            try:
                job = _wait(restarted, job_id)
                assert job["status"] == "FAIL", (step, rep, job)
                server = _get(restarted, f"/v1/{restarted.demo['project_id']}/cloudservers/{sid}")[
                    "server"
                ]
                # withStopServer stopped it before the failure; the old disks are back in place.
                assert server["status"] == "SHUTOFF" and server["OS-EXT-STS:task_state"] is None, (
                    step,
                    server,
                )
                assert (
                    server["os-extended-volumes:volumes_attached"]
                    == before["os-extended-volumes:volumes_attached"]
                )
                loose = [
                    r
                    for r in _volumes(database_url, restarted.demo["project_id"])
                    if r["server_id"] is None
                ]
                assert not loose, (step, loose)
                with restarted.http() as http:
                    start = http.post(
                        f"/v1/{restarted.demo['project_id']}/cloudservers/action",
                        json={"os-start": {"servers": [{"id": sid}]}},
                    )
                assert _wait(restarted, start.json()["job_id"])["status"] == "SUCCESS"
            finally:
                restarted.stop()
