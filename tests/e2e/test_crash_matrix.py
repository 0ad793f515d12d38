"""Crash matrix: the service dies (exit 137, as with SIGKILL) at every step boundary and inside
every step of a reinstall, is restarted, and the invariants hold every time:

- the job ends (SUCCESS here: nothing failed but the process) within a bound, never RUNNING;
- the server is ACTIVE on exactly one attached system disk whose volume record exists;
- the data disk keeps its id and attachment;
- no volume record is left detached or orphaned, no sub-job ran to SUCCESS twice;
and a crash at the start of a rollback resumes the rollback (job FAIL, server on its old disk).

Every case kills a real ``ecslite serve`` at its failpoint and recovers the job in a new process.
``run_cases`` chains the cases to start fewer processes: the process that recovers one case is
started with the *next* case's failpoint armed whenever the recovered job cannot reach that
point (it resumes at the step it crashed in and only moves forward, and the next point is at an
earlier step), and then serves as the process that crashes in the next case. Otherwise it is
started unarmed and the next case starts its own armed process, as every case used to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Case:
    failpoint: str  # "<point>:<step>"
    position: int  # index of the step in the job
    label: str


def earlier_step(current: Case, following: Case) -> bool:
    """A job recovered after a crash resumes at the step it crashed in and only moves forward:
    it cannot reach a failpoint of an earlier step."""
    return following.position < current.position


def run_cases(
    data: Path,
    database_url: str,
    cases: Sequence[Case],
    *,
    submit: Callable[[Service], str],
    unfinished: Callable[[], str],
    check: Callable[[Service, Case, str], None],
    prepare: Callable[[Service, Case], None] | None = None,
    admin: tuple[str, ...] = (),
    may_carry: Callable[[Case, Case], bool] = earlier_step,
) -> int:
    """For each case: a process armed with its failpoint takes ``submit``'s job and dies there
    (exit 137), a new process on the same port recovers the job, ``check`` judges the outcome.
    ``prepare`` runs on the armed process before the submit. The recovering process carries
    the next case's failpoint when ``may_carry(case, next_case)``: recovering ``case`` (and
    ``check``) must not be able to reach it. Returns the number of processes started (each case
    used to start two)."""
    started = 0
    armed: Service | None = None  # carries the failpoint of the case about to run
    try:
        for i, case in enumerate(cases):
            crashing = armed
            armed = None
            if crashing is None:
                env = {**FAST_LEASES, "ECSLITE_FAILPOINTS": case.failpoint}
                crashing = Service(data, *admin, database_url=database_url, env=env).start()
                started += 1
            try:
                if prepare is not None:
                    prepare(crashing, case)
                try:
                    job_id = submit(crashing)
                except httpx.TransportError:
                    # The runner may reach the failpoint before the HTTP answer is written: the
                    # job was committed before the crash, so find it in the store.
                    job_id = unfinished()
                assert crashing.proc is not None
                code = crashing.proc.wait(60)
                assert code == 137, f"{case.label}: exit {code}\n{crashing.log()[-2000:]}"
            finally:
                crashing.kill()
            nxt = cases[i + 1] if i + 1 < len(cases) else None
            carry = nxt is not None and may_carry(case, nxt)
            env = {
                **FAST_LEASES,
                **({"ECSLITE_FAILPOINTS": nxt.failpoint} if carry and nxt else {}),
            }
            restarted = Service(
                data, *admin, port=crashing.port, database_url=database_url, env=env
            ).start()
            started += 1
            try:
                check(restarted, case, job_id)
            except BaseException:
                restarted.stop()
                raise
            if carry:
                armed = restarted
            else:
                restarted.stop()
    finally:
        if armed is not None:
            armed.stop()
    return started


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

    # Steps from last to first within each point, so that one case's recovering process can
    # carry the next case's failpoint (see run_cases).
    cases = [
        Case(f"{point}:{step}", steps.index(step), f"{point}:{step} rep {rep}")
        for rep in range(REPS)
        for point in POINTS
        for step in reversed(steps)
    ]
    failures: list[str] = []

    def check(restarted: Service, case: Case, job_id: str) -> None:
        job = _wait(restarted, job_id)
        for problem in _check_invariants(restarted, database_url, sid, data_disk, job):
            failures.append(f"{case.label}: {problem}")

    started = run_cases(
        data,
        database_url,
        cases,
        submit=lambda svc: _reinstall(svc, sid),
        unfinished=lambda: _unfinished_job(database_url, sid),
        check=check,
    )
    assert len(cases) == len(steps) * len(POINTS) * REPS
    assert started <= len(cases) + len(POINTS) * REPS
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
    steps = ("detachSystemDisk", "createSystemDisk", "attachSystemDisk")
    # Consecutive cases never share a step, so each recovering process can carry the next
    # case's failpoint: ``rollback:<step>`` is reached only when <step> fails, and the fault
    # that makes it fail is injected (``prepare``) only after the previous case's checks.
    cases = [
        Case(f"rollback:{step}", steps.index(step), f"{step} rep {rep}")
        for rep in range(REPS)
        for step in steps
    ]

    def inject(svc: Service, case: Case) -> None:
        with svc.http() as http:
            resp = http.post(
                "/_ecslite/admin/faults",
                json={"step": case.failpoint.split(":", 1)[1], "server_id": sid},
            )
        assert resp.status_code == 201

    def check(restarted: Service, case: Case, job_id: str) -> None:
        job = _wait(restarted, job_id)
        assert job["status"] == "FAIL", (case.label, job)
        server = _get(restarted, f"/v1/{restarted.demo['project_id']}/cloudservers/{sid}")["server"]
        # withStopServer stopped it before the failure; the old disks are back in place.
        assert server["status"] == "SHUTOFF" and server["OS-EXT-STS:task_state"] is None, (
            case.label,
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
        assert not loose, (case.label, loose)
        with restarted.http() as http:
            start = http.post(
                f"/v1/{restarted.demo['project_id']}/cloudservers/action",
                json={"os-start": {"servers": [{"id": sid}]}},
            )
        assert _wait(restarted, start.json()["job_id"])["status"] == "SUCCESS"

    run_cases(
        data,
        database_url,
        cases,
        submit=lambda svc: _reinstall(svc, sid),
        unfinished=lambda: _unfinished_job(database_url, sid),
        check=check,
        prepare=inject,
        admin=admin,
        may_carry=lambda case, following: case.failpoint != following.failpoint,
    )
