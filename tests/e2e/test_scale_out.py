"""Scale-out on PostgreSQL: 2 API processes and 3 workers share one database; a worker is
SIGKILLed mid-run and every reinstall still finishes exactly once. Events of a job accepted by
one API process and run by a worker reach a stream served by another API process. A server
created with only host-bound workers is placed on, built on and stays with that host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from sqlalchemy import create_engine, text

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service, fresh_postgres_database, migrate, poll, write_fleet_seed

PG_SERVER = os.environ.get(
    "ECSLITE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SERVERS = 500


def _postgres_available() -> bool:
    if not PG_SERVER.startswith("postgresql"):
        return False
    try:
        engine = create_engine(PG_SERVER)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(
    not _postgres_available(),
    reason="runs in the PostgreSQL pass of `make test` (ECSLITE_TEST_DATABASE_URL names the server)",
)


class Worker:
    def __init__(self, database_url: str, data_dir: Path, log: Path, *extra: str) -> None:
        env = {**os.environ, "ECSLITE_LEASE_SECONDS": "3"}
        cmd = [
            sys.executable,
            "-m",
            "ecslite",
            "worker",
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
            "--sim-delay",
            "0.05",
            "--threads",
            "4",
            *extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)  # noqa: SIM115

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with fresh_postgres_database(PG_SERVER) as url:
        migrate(url)
        yield url


def test_two_apis_three_workers_one_killed_all_reinstalls_succeed_once(
    tmp_path: Path, database: str
) -> None:
    data = tmp_path / "data"
    seed = tmp_path / "seed.yaml"
    ids = write_fleet_seed(seed, SERVERS)
    apis = [Service(data, "--seed", str(seed), "--no-runner", database_url=database).start()]
    apis.append(Service(data, "--no-runner", database_url=database).start())
    workers = [Worker(database, data, tmp_path / f"worker-{i}.log") for i in range(3)]
    auth = SdkHmacAuth(ids["ak"], ids["sk"], ids["project"])
    clients = [httpx.Client(base_url=a.endpoint, auth=auth, timeout=30) for a in apis]
    project = ids["project"]
    try:

        def submit(i: int) -> str:
            sid = ids["servers"][i]
            # As a careful client does: a request whose connection breaks (a keep-alive
            # connection the server closed just as it was reused) is sent again with the same
            # client token, which answers with the job it already made, if any.
            token = {"X-Client-Token": uuid.uuid4().hex}
            for attempt in range(3):
                try:
                    resp = clients[i % 2].post(
                        f"/v2/{project}/cloudservers/{sid}/reinstallos",
                        json={"os-reinstall": {"adminpass": "Scale-Out-1"}},
                        headers=token,
                    )
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
            assert resp.status_code == 200, resp.text
            return str(resp.json()["job_id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            job_ids = list(pool.map(submit, range(SERVERS)))
        assert len(set(job_ids)) == SERVERS

        engine = create_engine(database)

        def finished() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM jobs WHERE status IN ('SUCCESS','FAIL')")
                    ).scalar_one()
                )

        poll(finished, until=lambda n: n >= 100, timeout=300)
        workers[0].kill()  # mid-run: it holds leases on jobs that others must take over
        poll(finished, until=lambda n: n == SERVERS, timeout=600)

        def rows(sql: str) -> list[Any]:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), {"p": project}).all())

        statuses = dict(
            rows("SELECT status, count(*) FROM jobs WHERE project_id = :p GROUP BY status")
        )
        sub_rows = rows(
            "SELECT s.job_id, count(*), count(DISTINCT s.seq), sum(CASE WHEN s.status = 'SUCCESS' THEN 1 ELSE 0 END)"
            " FROM sub_jobs s JOIN jobs j ON j.id = s.job_id WHERE j.project_id = :p GROUP BY s.job_id"
        )
        system = dict(
            rows("SELECT server_id, id FROM volumes WHERE boot_index = 0 AND project_id = :p")
        )
        volumes = rows("SELECT count(*) FROM volumes WHERE project_id = :p")[0][0]
        params = rows("SELECT server_id, params FROM jobs WHERE project_id = :p")
        servers = dict(
            rows(
                "SELECT vm_state || '/' || coalesce(task_state, '-'), count(*) FROM servers WHERE project_id = :p GROUP BY 1"
            )
        )
        engine.dispose()

        assert statuses == {"SUCCESS": SERVERS}
        assert len(sub_rows) == SERVERS
        assert all(total == distinct == ok == 7 for _, total, distinct, ok in sub_rows)
        # Exactly one system disk per server, the one its job created; old disks released; no
        # duplicate volume from a step that ran twice.
        assert len(system) == SERVERS and volumes == 2 * SERVERS
        assert all(system[sid] == p["new_volume_id"] for sid, p in params)
        assert servers == {"active/-": SERVERS}
        served = [
            w
            for w in workers[1:]
            if "job finished" in (tmp_path / f"worker-{workers.index(w)}.log").read_text()
        ]
        # Which survivor claims each job is a race (on a busy machine one may take them all):
        # the survivors served the jobs the killed worker left, exactly once (above).
        assert served, "a surviving worker ran jobs"
    finally:
        for c in clients:
            c.close()
        for w in workers:
            w.stop()
        for a in apis:
            a.stop()


def test_events_reach_an_api_process_other_than_the_one_that_accepted_the_job(
    tmp_path: Path, database: str
) -> None:
    data = tmp_path / "data"
    seed = tmp_path / "seed.yaml"
    ids = write_fleet_seed(seed, 1)
    server, project = ids["servers"][0], ids["project"]
    accepting = Service(
        data, "--seed", str(seed), "--no-runner", database_url=database, demo=False
    ).start()
    watching = Service(data, "--no-runner", database_url=database, demo=False).start()
    worker = Worker(database, data, tmp_path / "worker.log")
    auth = SdkHmacAuth(ids["ak"], ids["sk"], project)
    a = httpx.Client(base_url=accepting.endpoint, auth=auth, timeout=30)
    b = httpx.Client(base_url=watching.endpoint, auth=auth, timeout=30)
    try:
        with connect_sse(b, "GET", f"/v1/{project}/events", params={"server_id": server}) as src:
            events = src.iter_sse()
            opening = next(events)
            assert opening.event == "server"
            assert json.loads(opening.data)["server"]["status"] == "SHUTOFF"
            # The stream is open before the job exists: everything after comes live through
            # process B, from a job that process A accepted and a worker ran.
            resp = a.post(
                f"/v2/{project}/cloudservers/{server}/reinstallos",
                json={"os-reinstall": {"adminpass": "Scale-Out-1"}},
            )
            assert resp.status_code == 200, resp.text
            job_id = resp.json()["job_id"]
            received = []
            for ev in events:
                received.append((int(ev.id), ev.event, json.loads(ev.data)))
                if ev.event == "job" and received[-1][2]["status"] in ("SUCCESS", "FAIL"):
                    break
        jobs = [d for _, k, d in received if k == "job"]
        assert jobs[0]["job_id"] == job_id and jobs[0]["status"] == "INIT"
        assert jobs[-1]["status"] == "SUCCESS"
        assert jobs[-1] == a.get(f"/v1/{project}/jobs/{job_id}").json()
        assert [i for i, _, _ in received] == sorted({i for i, _, _ in received})
        servers = [d for _, k, d in received if k == "server"]
        assert servers[0]["server"]["status"] == "REBUILD"
        assert servers[-1] == a.get(f"/v1/{project}/cloudservers/{server}").json()
    finally:
        a.close()
        b.close()
        worker.stop()
        watching.stop()
        accepting.stop()


def test_a_created_server_lives_on_the_host_it_was_placed_on(tmp_path: Path, database: str) -> None:
    # Only host-bound workers: a job bound to any other host would wait forever.
    api = Service(tmp_path / "data", "--no-runner", database_url=database).start()
    worker = Worker(database, tmp_path / "data", tmp_path / "worker.log", "--host-id", "h1")
    demo = api.demo
    project = demo["project_id"]
    engine = create_engine(database)

    def registered() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM hosts WHERE id = 'h1'")).scalar_one()
            )

    # Placement needs the host up: a create accepted before its worker registers finds none.
    poll(registered, until=lambda n: n == 1, timeout=60)
    engine.dispose()
    try:
        with api.http() as http:

            def finished(job_id: str) -> dict[str, Any]:
                job: dict[str, Any] = poll(
                    lambda: http.get(f"/v1/{project}/jobs/{job_id}").json(),
                    until=lambda j: j["status"] in ("SUCCESS", "FAIL"),
                    timeout=60,
                )
                return job

            body = {
                "server": {
                    "name": "placed",
                    "imageRef": demo["images"]["cloudinit"],
                    "flavorRef": "s6.small.1",
                    "vpcid": demo["vpc_id"],
                    "nics": [{"subnet_id": demo["subnet_id"]}],
                    "adminPass": "Placed-Passw0rd",
                }
            }
            resp = http.post(f"/v1/{project}/cloudservers", json=body)
            assert resp.status_code == 200, resp.text
            (sid,) = resp.json()["serverIds"]
            assert finished(resp.json()["job_id"])["status"] == "SUCCESS"
            server = http.get(f"/v1/{project}/cloudservers/{sid}").json()["server"]
            assert (server["status"], server["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "h1")
            # Its later jobs are bound to that host, and its worker runs them.
            action = {"reboot": {"type": "SOFT", "servers": [{"id": sid}]}}
            resp = http.post(f"/v1/{project}/cloudservers/action", json=action)
            assert resp.status_code == 200, resp.text
            assert finished(resp.json()["job_id"])["status"] == "SUCCESS"
    finally:
        worker.stop()
        api.stop()
