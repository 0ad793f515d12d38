"""Fixtures: an in-process app on a fresh SQLite store with the demo tenant, and API helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ecslite.api.app import create_app
from ecslite.auth.httpx_auth import SdkHmacAuth
from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.demo import ensure_demo
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import apply_seed
from tests.support import TERMINAL, fresh_postgres_database, poll


class Api:
    """A thin client for the demo tenant with the calls tests make again and again."""

    def __init__(self, client: TestClient, demo: dict[str, Any], data_dir: Path) -> None:
        self.client = client
        self.demo = demo
        self.demo_db = data_dir / "ecslite.db"
        self.database_url = ""
        self.project = demo["project_id"]

    def reinstall(self, server_id: str, body: dict[str, Any] | None = None, **fields: Any) -> Any:
        payload = body if body is not None else {"os-reinstall": fields}
        return self.client.post(
            f"/v2/{self.project}/cloudservers/{server_id}/reinstallos", json=payload
        )

    def server(self, server_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/v1/{self.project}/cloudservers/{server_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json()["server"])

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.client.get(f"/v1/{self.project}/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def wait(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        return dict(
            poll(lambda: self.job(job_id), until=lambda j: j["status"] in TERMINAL, timeout=timeout)
        )

    def key_login(self) -> dict[str, str]:
        return {"keyname": self.demo["keypair"]["name"], "userid": self.demo["user_id"]}

    def inject(self, step: str, server_id: str | None = None, **kw: Any) -> None:
        resp = self.client.post(
            "/_ecslite/admin/faults", json={"step": step, "server_id": server_id, **kw}
        )
        assert resp.status_code == 201, resp.text


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in the test's directory, or a new PostgreSQL database
    when ECSLITE_TEST_DATABASE_URL names a PostgreSQL server (CI runs the suite both ways)."""
    server = os.environ.get("ECSLITE_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'data' / 'ecslite.db'}"
        return
    with fresh_postgres_database(server) as url:
        yield url


def _make_api(tmp_path: Path, database_url: str, **settings: Any) -> Iterator[Api]:
    # These tests repeat identical signed requests within one second on purpose (a second
    # create is 409, a second delete 404, a racing rebuild 409); the signature's date has a
    # one-second resolution, so the default replay refusal would answer 401 instead. Replay
    # refusal itself is tested against real processes (tests/e2e/test_replay.py).
    settings.setdefault("refuse_replayed_signatures", False)
    s = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        enable_admin=True,
        poll_interval=0.05,
        **settings,
    )
    container = build(s, upgrade_schema=True)
    box = SecretBox.from_file(s.data_dir / "master.key")
    demo, doc = ensure_demo(s.data_dir, "http://testserver")
    apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=container.clock)
    app = create_app(container, secret_box=box, enable_admin=True, reset_seeds=[doc])
    container.start_runner()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            # Every request is signed like the official SDK signs it.
            client.auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
            api = Api(client, demo, s.data_dir)
            api.database_url = database_url
            yield api
    finally:
        container.close()


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    """The app with the demo tenant, sim driver without delay."""
    yield from _make_api(tmp_path, database_url)


@pytest.fixture
def slow_api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    """The same, with every sim step taking 0.2 s so jobs can be watched while they run."""
    yield from _make_api(tmp_path, database_url, sim_delay=0.2)
