"""Several hosts on PostgreSQL, as an operator runs them: one API process, three host-bound
sim workers (h1..h3), a host too small for anything (tiny) and a worker of the default host
(local). A count=6 create lands 2/2/2 and its parts build in parallel; two concurrent creates
never oversubscribe; ``ecslite hosts list`` shows the hosts and their allocations. h3 is
SIGKILLed mid-job: it is listed down, Nova says DOWN, new operations on its servers are
refused, ``ecslite jobs fail`` frees its stuck server, and h3 restarted resumes its own job at
once. A batch delete across hosts runs each server's part on its own host, and the local
worker never runs another host's job."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support import Service, fresh_postgres_database, migrate, poll

PG_SERVER = os.environ.get(
    "ECSLITE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


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

DOWN_AFTER = "6"  # seconds: the hosts' heartbeat freshness (30 by default)


class HostWorker:
    """An ``ecslite worker`` of one host, with its own data dir and log."""

    def __init__(self, database: str, root: Path, host_id: str | None, *extra: str) -> None:
        self.name = host_id or "local"
        self.log = root / f"worker-{self.name}.log"
        self.cmd = [
            sys.executable,
            "-m",
            "ecslite",
            "worker",
            "--database-url",
            database,
            "--data-dir",
            str(root / self.name),
            "--threads",
            "4",
            *(["--host-id", host_id] if host_id else []),
            *extra,
        ]
        # A long lease: a job of a killed worker is resumed by its restart, never by expiry.
        self.env = {
            **os.environ,
            "ECSLITE_LEASE_SECONDS": "300",
            "ECSLITE_HOST_DOWN_AFTER": DOWN_AFTER,
            # RAM as the host has it: four 1 GiB servers fill a 4 GiB host.
            "ECSLITE_RAM_ALLOCATION_RATIO": "1.0",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HostWorker:
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - handed to the child process
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def ran(self) -> set[str]:
        """The ids of the jobs this host's workers started."""
        return set(re.findall(r"job started job_id=(\S+)", self.log.read_text()))


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database(PG_SERVER) as url:
        migrate(url)
        yield url


def _metrics(http: httpx.Client) -> dict[str, dict[str, float]]:
    """The API process's /metrics: each sample's value by family and host (servers for the
    allocations), parsed with the Prometheus client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    resp = http.get("/metrics")
    assert resp.status_code == 200, resp.text
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            host = sample.labels.get("host")
            if host is None or sample.labels.get("resource", "servers") != "servers":
                continue
            out.setdefault(sample.name, {})[host] = sample.value
    return out


def cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ecslite", *args], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_three_hosts_placement_failure_and_recovery(tmp_path: Path, database: str) -> None:
    api = Service(tmp_path / "api", "--no-runner", "--enable-admin", database_url=database)
    api.start()
    size = ("--sim-vcpus", "4", "--sim-ram-mb", "4096")
    workers = {
        "h1": HostWorker(database, tmp_path, "h1", "--sim-delay", "0.3", *size),
        "h2": HostWorker(database, tmp_path, "h2", "--sim-delay", "0.3", *size),
        # Slow, so that a job of it can be caught running and the worker killed under it.
        "h3": HostWorker(database, tmp_path, "h3", "--sim-delay", "1.5", *size),
        "tiny": HostWorker(database, tmp_path, "tiny", "--sim-ram-mb", "512"),
        # The default host: holds the demo's servers, offers no room for new ones.
        "local": HostWorker(database, tmp_path, None, "--sim-ram-mb", "0"),
    }
    for w in workers.values():
        w.start()
    demo = api.demo
    project = demo["project_id"]
    engine = create_engine(database)

    def rows(sql: str, **params: Any) -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def hosts() -> dict[str, dict[str, Any]]:
        listed = json.loads(cli("hosts", "list", "--endpoint", api.endpoint, "--json"))
        return {h["id"]: h for h in listed}

    try:
        http = api.http()
        poll(hosts, until=lambda h: len(h) == 5 and all(x["state"] == "up" for x in h.values()))

        def job(job_id: str) -> dict[str, Any]:
            return dict(http.get(f"/v1/{project}/jobs/{job_id}").json())

        def finished(job_id: str, timeout: float = 120) -> dict[str, Any]:
            return dict(
                poll(
                    lambda: job(job_id),
                    until=lambda j: j["status"] in ("SUCCESS", "FAIL"),
                    timeout=timeout,
                )
            )

        def create(name: str, count: int, token: str) -> httpx.Response:
            body = {
                "server": {
                    "name": name,
                    "imageRef": demo["images"]["cloudinit"],
                    "flavorRef": "s6.small.1",  # 1 vCPU, 1024 MB
                    "vpcid": demo["vpc_id"],
                    "nics": [{"subnet_id": demo["subnet_id"]}],
                    "adminPass": "Hosts-Passw0rd",
                    "count": count,
                }
            }
            with api.http() as h:
                return h.post(
                    f"/v1/{project}/cloudservers", json=body, headers={"X-Client-Token": token}
                )

        def host_of(sid: str) -> str:
            server = http.get(f"/v1/{project}/cloudservers/{sid}").json()["server"]
            return str(server["OS-EXT-SRV-ATTR:host"])

        def reboot(sid: str) -> httpx.Response:
            with api.http() as h:
                return h.post(
                    f"/v1/{project}/cloudservers/action",
                    json={"reboot": {"type": "SOFT", "servers": [{"id": sid}]}},
                )

        # -- count=6 lands 2/2/2, tiny gets none, the three parts build at once ---------------
        resp = create("six", 6, "six")
        assert resp.status_code == 200, resp.text
        six_job, six = resp.json()["job_id"], resp.json()["serverIds"]
        done = finished(six_job)
        assert done["status"] == "SUCCESS", done
        assert done["entities"]["sub_jobs_total"] == 36
        placed = {sid: host_of(sid) for sid in six}
        assert Counter(placed.values()) == {"h1": 2, "h2": 2, "h3": 2}
        parts = rows(
            "SELECT host_id, begin_time, end_time FROM jobs WHERE parent_id = :j", j=six_job
        )
        assert sorted(p.host_id for p in parts) == ["h1", "h2", "h3"]
        # In parallel: every part had begun before the first of them ended.
        assert max(p.begin_time for p in parts) < min(p.end_time for p in parts)
        assert all(
            f"job started job_id={six_job}" not in w.log.read_text() for w in workers.values()
        )

        listed = hosts()
        for hid in ("h1", "h2", "h3"):
            assert listed[hid]["servers"] == 2 and listed[hid]["allocated"]["ram_mb"] == 2048
        assert listed["tiny"]["servers"] == 0 and listed["local"]["servers"] > 0

        # -- two concurrent creates cannot both take the 6 GB left ------------------------------
        with ThreadPoolExecutor(2) as pool:
            racing = list(pool.map(lambda i: create(f"race{i}", 4, f"race{i}"), range(2)))
        codes = sorted(r.status_code for r in racing)
        assert codes == [200, 400], [r.text for r in racing]
        refused = next(r for r in racing if r.status_code == 400)
        assert refused.json()["error"]["code"] == "Ecs.0319"
        won = next(r for r in racing if r.status_code == 200)
        assert finished(won.json()["job_id"])["status"] == "SUCCESS"
        alloc = dict(rows("SELECT host_id, sum(ram_mb) FROM allocations GROUP BY host_id"))
        assert all(alloc[h] <= 4096 for h in ("h1", "h2", "h3")), alloc

        # -- h3 killed under a running job ------------------------------------------------------
        on_h3 = [sid for sid, h in placed.items() if h == "h3"]
        running_sid, stuck_sid = on_h3
        resp = reboot(running_sid)
        assert resp.status_code == 200, resp.text
        running_job = resp.json()["job_id"]
        poll(lambda: job(running_job)["status"], until=lambda s: s == "RUNNING", timeout=30)
        workers["h3"].kill()
        # Accepted in the seconds before h3 is seen down: bound to h3, it cannot start.
        resp = reboot(stuck_sid)
        assert resp.status_code == 200, resp.text
        stuck_job = resp.json()["job_id"]

        poll(hosts, until=lambda h: h["h3"]["state"] == "down", timeout=45)
        nova = {"OpenStack-API-Version": "compute 2.16"}
        shown = http.get(f"/v2.1/{project}/servers/{stuck_sid}", headers=nova).json()
        assert shown["server"]["host_status"] == "DOWN"
        other_h3 = [
            sid
            for sid in (r[0] for r in rows("SELECT id FROM servers WHERE host_id = 'h3'"))
            if sid not in on_h3
        ]
        refusal = reboot(other_h3[0])
        assert refusal.status_code == 400
        assert refusal.json()["error"]["code"] == "Ecs.0100"
        assert "host h3 is down" in refusal.json()["error"]["message"]
        nova_refusal = http.post(
            f"/v2.1/{project}/servers/{other_h3[0]}/action",
            json={"reboot": {"type": "SOFT"}},
            headers=nova,
        )
        assert "host h3 is down" in nova_refusal.text
        assert job(stuck_job)["status"] == "INIT"
        # What monitoring sees (the API process's /metrics, parsed as Prometheus does): h3 down,
        # the others up, the job bound to h3 waiting in h3's queue, h3's servers still held.
        seen = _metrics(http)
        assert seen["ecslite_host_up"]["h3"] == 0
        assert seen["ecslite_host_up"]["h1"] == seen["ecslite_host_up"]["h2"] == 1
        assert seen["ecslite_job_queue_depth"]["h3"] >= 1
        assert seen["ecslite_host_allocated"]["h3"] >= len(on_h3)

        cli("jobs", "fail", stuck_job, "--reason", "h3 lost power", "--endpoint", api.endpoint)
        assert job(stuck_job)["status"] == "FAIL"
        stuck = http.get(f"/v1/{project}/cloudservers/{stuck_sid}").json()["server"]
        assert stuck["status"] == "ERROR" and stuck["fault"]["message"] == "h3 lost power"

        # -- h3 back: its own lease freed at start, its job resumed, the failed server rebuilt --
        workers["h3"].start()
        assert finished(running_job)["status"] == "SUCCESS"
        assert "recovery host_id=h3 resumed_jobs=1" in workers["h3"].log.read_text()
        poll(hosts, until=lambda h: h["h3"]["state"] == "up")
        seen = _metrics(http)
        assert seen["ecslite_host_up"]["h3"] == 1
        assert seen.get("ecslite_job_queue_depth", {}).get("h3", 0) == 0
        with api.http() as h:
            resp = h.post(
                f"/v2/{project}/cloudservers/{stuck_sid}/reinstallos",
                json={"os-reinstall": {"adminpass": "Hosts-Passw0rd"}},
            )
        assert resp.status_code == 200, resp.text
        assert finished(resp.json()["job_id"])["status"] == "SUCCESS"

        # -- a batch delete across hosts: each server's part on its own host -------------------
        pair = [next(s for s, h in placed.items() if h == hid) for hid in ("h1", "h2")]
        with api.http() as h:
            resp = h.post(
                f"/v1/{project}/cloudservers/delete",
                json={"servers": [{"id": s} for s in pair], "delete_volume": True},
            )
        assert resp.status_code == 200, resp.text
        delete_job = resp.json()["job_id"]
        assert finished(delete_job)["status"] == "SUCCESS"
        by_host = dict(
            (r.host_id, r.id)
            for r in rows("SELECT id, host_id FROM jobs WHERE parent_id = :j", j=delete_job)
        )
        assert set(by_host) == {"h1", "h2"}
        assert by_host["h1"] in workers["h1"].ran() and by_host["h1"] not in workers["h2"].ran()
        assert by_host["h2"] in workers["h2"].ran() and by_host["h2"] not in workers["h1"].ran()
        gone = rows("SELECT count(*) FROM servers WHERE id = :a OR id = :b", a=pair[0], b=pair[1])
        assert gone == [(0,)]

        # -- the default host's worker runs its own servers' jobs and no other host's ----------
        resp = reboot(demo["servers"]["running"])
        assert resp.status_code == 200, resp.text
        local_job = resp.json()["job_id"]
        assert finished(local_job)["status"] == "SUCCESS"
        assert workers["local"].ran() == {local_job}
        bound = {r[0] for r in rows("SELECT id FROM jobs WHERE host_id <> 'local'")}
        assert not bound & workers["local"].ran()
        assert not workers["tiny"].ran()

        # -- drain h2: disabled, no jobs; new servers go elsewhere; enabled again ---------------
        drained = cli(
            "hosts", "drain", "h2", "--reason", "kernel update", "--endpoint", api.endpoint
        )
        assert "h2: drained" in drained
        assert hosts()["h2"]["status"] == "MAINTENANCE"
        resp = create("after-drain", 1, "after-drain")
        assert resp.status_code == 200, resp.text
        assert host_of(resp.json()["serverIds"][0]) in ("h1", "h3")
        cli("hosts", "enable", "h2", "--endpoint", api.endpoint)
        assert hosts()["h2"]["status"] == "UP"
    finally:
        engine.dispose()
        for w in workers.values():
            w.stop()
        api.stop()
