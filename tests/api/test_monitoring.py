"""/healthz, /readyz and /metrics of an API process: open without credentials, outside the
admission gate, readiness failing on a database that is down or a schema behind, and metrics a
Prometheus client parses, counting requests by route template and the jobs the runner ran."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from ecslite.api.monitor import monitor_app
from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.services.monitoring import Monitoring
from tests.conftest import Api


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_answers_without_credentials(api: Api) -> None:
    api.client.auth = None
    alive = api.client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"database", "schema", "runner"}
    assert api.client.get("/metrics").status_code == 200
    # Only reads: anything else is refused, and nothing there needs (or takes) a body.
    assert api.client.post("/healthz").status_code == 405


def test_readiness_fails_when_the_schema_is_behind(api: Api) -> None:
    engine = create_engine(api.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert "'0001'" in ready.json()["checks"]["schema"]
    # Alive all the same: a load balancer keeps the process, it only sends it no requests.
    assert api.client.get("/healthz").status_code == 200


def test_readiness_fails_when_the_database_is_down(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path))
    # Nothing listens on port 1: every connection is refused at once.
    down = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    monitoring = Monitoring(
        engine=down,
        uow_factory=container.uow_factory,
        runner=container.runner,
        clock=container.clock,
        host_id="local",
        driver="sim",
    )
    try:
        with TestClient(monitor_app(monitoring)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "The database is not reachable."
            assert client.get("/healthz").status_code == 200
    finally:
        down.dispose()
        container.close()


def test_readiness_fails_when_the_runner_has_stopped(tmp_path: Path) -> None:
    # A long lease: the heartbeat turns every 100 s, so it cannot refresh itself mid-test.
    container = build(Settings(data_dir=tmp_path, lease_seconds=300))
    try:
        with TestClient(monitor_app(container.monitoring)) as client:
            # Not started: a process without a runner (serve --no-runner) is ready.
            assert client.get("/readyz").json()["checks"]["runner"] == "no runner in this process"
            container.start_runner()
            assert client.get("/readyz").status_code == 200
            # A heartbeat two turns late: the runner is stuck, its leases are at risk.
            assert container.runner.last_beat is not None
            container.runner.last_beat -= 250
            stuck = client.get("/readyz")
            assert stuck.status_code == 503
            assert "heartbeat is 250 s old" in stuck.json()["checks"]["runner"]
            container.runner.stop()
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["runner"] == "A runner thread has stopped."
    finally:
        container.close()


def test_metrics_token_guards_only_metrics(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path))
    try:
        app = monitor_app(container.monitoring, metrics_token="s3cret-token")
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert client.get("/metrics", headers=wrong).status_code == 401
            right = {"Authorization": "Bearer s3cret-token"}
            assert client.get("/metrics", headers=right).status_code == 200
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/anything").status_code == 404
    finally:
        container.close()


def test_metrics_count_requests_by_template_and_jobs_of_a_reinstall(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    template = "/v1/{project_id}/cloudservers/{server_id}"
    before = _samples(api.client.get("/metrics").text)
    api.server(sid)
    assert api.client.get(f"/v1/{api.project}/cloudservers/no-such-server").status_code == 404
    job = api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])
    assert job["status"] == "SUCCESS"

    body = api.client.get("/metrics").text
    after = _samples(body)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    # One series per route template, whatever the id in the path.
    assert delta("ecslite_http_requests_total", method="GET", route=template, status="200") == 1
    assert delta("ecslite_http_requests_total", method="GET", route=template, status="404") == 1
    assert sid not in body and "no-such-server" not in body
    assert delta("ecslite_http_request_duration_seconds_count", method="GET", route=template) == 2
    assert delta("ecslite_jobs_total", type="reinstallOS", outcome="SUCCESS") == 1
    assert (
        delta(
            "ecslite_job_step_duration_seconds_count",
            type="reinstallOS",
            step="createSystemDisk",
            outcome="SUCCESS",
        )
        == 1
    )
    # Read from the store at scrape time: nothing waits, the demo's active guests run here.
    assert _value(after, "ecslite_job_queue_depth", host="") == 0
    assert _value(after, "ecslite_guests_running", host="local") >= 1
    assert _value(after, "ecslite_ready") == 1


def test_requests_that_reach_no_route_share_one_series(api: Api) -> None:
    api.client.auth = None
    before = _samples(api.client.get("/metrics").text)
    assert api.client.get(f"/v1/{api.project}/cloudservers/detail").status_code == 401
    assert api.client.get("/no/such/path/abc123").status_code in (401, 404)
    body = api.client.get("/metrics").text
    after = _samples(body)
    key = (
        "ecslite_http_requests_total",
        (("method", "GET"), ("route", "unrouted"), ("status", "401")),
    )
    assert after.get(key, 0) - before.get(key, 0) >= 1
    assert "abc123" not in body and api.project not in body
    # Nor can an invented method add a series.
    assert api.client.request("BREW", "/no/such/pot").status_code in (401, 404, 405)
    assert "BREW" not in api.client.get("/metrics").text


async def _call(
    app: Any, path: str, hold: asyncio.Event | None = None, started: asyncio.Event | None = None
) -> int:
    """One raw ASGI GET; with ``hold``, the answer's first message waits for it (the request
    keeps its admission slot meanwhile)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            if started is not None:
                started.set()
            if hold is not None:
                await hold.wait()

    await app(scope, receive, send)
    return status


def test_health_is_not_behind_the_admission_gate(tmp_path: Path) -> None:
    """With the only admission slot taken and no queue, an API request is refused (429); the
    health paths still answer."""
    from ecslite.api.app import create_app
    from ecslite.store.secretbox import SecretBox

    container = build(Settings(data_dir=tmp_path, max_in_flight=1, max_queued=0))
    app = create_app(container, secret_box=SecretBox.from_file(tmp_path / "master.key"))

    async def scenario() -> tuple[int, ...]:
        hold, started = asyncio.Event(), asyncio.Event()
        held = asyncio.create_task(_call(app, "/v3", hold, started))
        await asyncio.wait_for(started.wait(), 10)
        codes = (
            await _call(app, "/v3"),
            await _call(app, "/healthz"),
            await _call(app, "/readyz"),
            await _call(app, "/metrics"),
        )
        hold.set()
        return (await held, *codes)

    try:
        assert asyncio.run(scenario()) == (200, 429, 200, 200, 200)
    finally:
        container.close()
