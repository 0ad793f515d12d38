"""Every process is scrapable: an API process (`serve --no-runner`) and a worker on PostgreSQL
each answer /healthz, /readyz and /metrics, read with the Prometheus client's parser. A job
accepted while no worker runs shows in the queue depth; the worker that then runs it counts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from tests.support import Service, free_port, fresh_postgres_database, migrate, poll

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


def _metrics(endpoint: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = httpx.get(f"{endpoint}/metrics", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def _get(m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


def _total(m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    """Summed over its label values (the queue's host label names the server's host)."""
    return sum(v for (n, _), v in m.items() if n == name)


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_postgres_database(PG_SERVER) as url:
        migrate(url)
        yield url


def test_api_process_and_worker_answer_health_and_metrics(tmp_path: Path, database: str) -> None:
    data = tmp_path / "data"
    api = Service(data, "--no-runner", database_url=database).start()
    port = free_port()
    worker: subprocess.Popen[bytes] | None = None
    worker_url = f"http://127.0.0.1:{port}"
    try:
        client = api.http()
        project = api.demo["project_id"]
        sid = api.demo["servers"]["stopped"]
        for path in ("/healthz", "/readyz"):
            resp = httpx.get(f"{api.endpoint}{path}", timeout=10)
            assert resp.status_code == 200, resp.text

        # No runner anywhere yet: the accepted job waits, and the API process's scrape says so.
        resp = client.post(
            f"/v2/{project}/cloudservers/{sid}/reinstallos",
            json={"os-reinstall": {"adminpass": "Monitor-Me-1"}},
        )
        assert resp.status_code == 200, resp.text
        job_id = resp.json()["job_id"]
        waiting = _metrics(api.endpoint)
        assert _total(waiting, "ecslite_job_queue_depth") == 1
        assert _total(waiting, "ecslite_job_queue_oldest_age_seconds") >= 0
        route = "/v2/{project_id}/cloudservers/{server_id}/reinstallos"
        assert (
            _get(waiting, "ecslite_http_requests_total", method="POST", route=route, status="200")
            == 1
        )

        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecslite",
                "worker",
                "--database-url",
                database,
                "--data-dir",
                str(data),
                "--monitor-port",
                str(port),
            ],
            stdout=open(tmp_path / "worker.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )

        def worker_ready() -> int:
            assert worker is not None and worker.poll() is None, (
                tmp_path / "worker.log"
            ).read_text()
            try:
                return httpx.get(f"{worker_url}/readyz", timeout=2).status_code
            except httpx.HTTPError:
                return 0

        poll(worker_ready, until=lambda code: code == 200, timeout=60)
        assert httpx.get(f"{worker_url}/healthz", timeout=5).json() == {"status": "alive"}
        assert "runner" in httpx.get(f"{worker_url}/readyz", timeout=5).json()["checks"]
        job = poll(
            lambda: client.get(f"/v1/{project}/jobs/{job_id}").json(),
            until=lambda j: j["status"] in ("SUCCESS", "FAIL"),
            timeout=60,
        )
        assert job["status"] == "SUCCESS", job

        ran = _metrics(worker_url)
        assert _get(ran, "ecslite_jobs_total", type="reinstallOS", outcome="SUCCESS") == 1
        assert (
            _get(
                ran,
                "ecslite_job_step_duration_seconds_count",
                type="reinstallOS",
                step="startServer",
                outcome="SUCCESS",
            )
            == 1
        )
        assert _total(ran, "ecslite_job_queue_depth") == 0
        # The API process ran nothing; its queue is empty now too.
        after = _metrics(api.endpoint)
        assert _get(after, "ecslite_jobs_total", type="reinstallOS", outcome="SUCCESS") == 0
        assert _total(after, "ecslite_job_queue_depth") == 0
        # The worker serves only the monitoring paths.
        assert httpx.get(f"{worker_url}/v1/{project}/jobs/{job_id}", timeout=5).status_code == 404
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        api.stop()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
