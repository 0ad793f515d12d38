"""Fixtures: an in-process app on its own copy of a migrated store with the demo tenant, and API
helpers.

The demo tenant is migrated and seeded once per test session (per xdist worker) into a template:
a data dir, and for PostgreSQL a template database. Each test gets a copy (a file copy, or
``CREATE DATABASE ... TEMPLATE``) instead of migrating and seeding again. The template's demo
passwords are stored as argon2 hashes with cheap parameters (``fixture_password_hash``), written
by this file straight into the template: ecslite itself has no way to produce them, so no served
process ever hashes with them.

The app and its dependencies are imported by the fixtures that need them, not here: a unit test
run on its own does not pay for importing the whole app.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import TERMINAL, fresh_postgres_database, poll

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


# Fixture values only: a fraction of a millisecond instead of ~64 MiB and hundreds of ms per
# hash or check. argon2 checks a hash with the parameters written in it, so logins in tests are
# as cheap as the hashing.
FIXTURE_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


TESTS = Path(__file__).parent
# Every test in these directories starts an ecslite service or CLI process (or a browser).
PROCESS_DIRS = ("e2e", "browser")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-processes",
        action="store_true",
        help="fail any test that starts a process (`make check`: such tests must be marked "
        "`process` and are left to `make test`)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """With --no-processes, a test (its fixtures included) cannot start a process."""
    if not item.config.getoption("--no-processes"):
        return (yield)
    import subprocess

    def refuse(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        self._child_created = False  # type: ignore[attr-defined]  # Popen.__del__ reads it
        raise RuntimeError(
            "this test starts a process: mark it `process` (pytest.mark.process) so that "
            "`make check` leaves it to `make test`"
        )

    allowed = subprocess.Popen.__init__
    subprocess.Popen.__init__ = refuse  # type: ignore[assignment,method-assign]
    try:
        return (yield)
    finally:
        subprocess.Popen.__init__ = allowed  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(TESTS) and path.relative_to(TESTS).parts[0] in PROCESS_DIRS:
            item.add_marker(pytest.mark.process)
        if item.get_closest_marker("qemu") and not path.name.startswith(GUEST_FILE_PREFIX):
            raise pytest.UsageError(
                f"{path.name} boots real guests (marked `qemu`): name it {GUEST_FILE_PREFIX}*.py "
                "so that its tests share the one xdist worker that boots guests"
            )
    # The guest-booting files are the longest unit of work: hand them out first.
    items.sort(key=lambda item: not Path(item.path).name.startswith(GUEST_FILE_PREFIX))


# Files whose tests boot real QEMU guests; the name is what the xdist scheduler below can see.
GUEST_FILE_PREFIX = "test_qemu_"


# Units that run for minutes (measured with --durations), longest first.
LONG_UNITS = (
    "guests",
    "tests/e2e/test_openstack_rebuild_repeat.py",
    "tests/e2e/test_crash_matrix.py",
    "tests/e2e/test_scale_out.py",
    "tests/e2e/test_hosts.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under xdist (`make test` runs `-n 3`), hand out whole files, and all the guest-booting
    files as one unit: a file's module-scoped service then starts once, and no two TCG guests
    boot at once on a 2-core machine (each would take twice as long and near its timeouts)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "guests" if Path(path).name.startswith(GUEST_FILE_PREFIX) else path

        def _assign_work_unit(self, node: Any) -> None:
            # xdist orders units by their number of tests, which would leave a long file of
            # one or two tests for the very end of the run: hand the long ones out first.
            for scope in reversed(LONG_UNITS):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ByFile(config, log)


def fixture_password_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(**FIXTURE_ARGON2).hash(password)


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


def _server_url() -> str | None:
    """The PostgreSQL server named by ECSLITE_TEST_DATABASE_URL (CI runs the suite both ways)."""
    return os.environ.get("ECSLITE_TEST_DATABASE_URL") or None


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in the test's directory, or a new PostgreSQL database
    when ECSLITE_TEST_DATABASE_URL names a PostgreSQL server."""
    server = _server_url()
    if not server:
        yield f"sqlite:///{tmp_path / 'data' / 'ecslite.db'}"
        return
    with fresh_postgres_database(server) as url:
        yield url


@dataclass(frozen=True)
class SeededTemplate:
    """A data dir (master key, demo.json, SQLite file) migrated and seeded with the demo tenant,
    and for PostgreSQL the name of a template database holding the same."""

    data_dir: Path
    pg_template: str | None

    def copy(self, data_dir: Path) -> Iterator[str]:
        """Copy the template to ``data_dir``; yield the database URL of the copy."""
        shutil.copytree(self.data_dir, data_dir)
        server = _server_url()
        if server is None or self.pg_template is None:
            yield f"sqlite:///{data_dir / 'ecslite.db'}"
            return
        with fresh_postgres_database(server, template=self.pg_template) as url:
            yield url


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededTemplate]:
    from sqlalchemy import create_engine, update

    from ecslite.bootstrap import build
    from ecslite.config import Settings
    from ecslite.demo import ensure_demo
    from ecslite.store import tables
    from ecslite.store.secretbox import SecretBox
    from ecslite.store.seeding import apply_seed

    data = tmp_path_factory.mktemp("seeded-template") / "data"
    server = _server_url()
    with _template_database(server) as (database_url, pg_template):
        settings = Settings(data_dir=data, database_url=database_url)
        container = build(settings, upgrade_schema=True)
        try:
            box = SecretBox.from_file(data / "master.key")
            _, doc = ensure_demo(data, "http://testserver")
            apply_seed(doc, uow_factory=container.uow_factory, box=box, clock=container.clock)
        finally:
            container.close()
        engine = create_engine(settings.resolved_database_url())
        try:
            with engine.begin() as conn:
                for user in doc.users:
                    if user.password:
                        conn.execute(
                            update(tables.users)
                            .where(tables.users.c.id == user.id)
                            .values(password_hash=fixture_password_hash(user.password))
                        )
        finally:
            engine.dispose()
        # PostgreSQL copies a template only while nobody is connected to it.
        yield SeededTemplate(data, pg_template)


@contextmanager
def _template_database(server: str | None) -> Iterator[tuple[str | None, str | None]]:
    if server is None:
        yield None, None
        return
    with fresh_postgres_database(server, prefix="ecslite_tpl_") as url:
        from sqlalchemy.engine import make_url

        yield url, make_url(url).database


def _make_api(tmp_path: Path, template: SeededTemplate, **settings: Any) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from ecslite.api.app import create_app
    from ecslite.auth.httpx_auth import SdkHmacAuth
    from ecslite.bootstrap import build
    from ecslite.config import Settings
    from ecslite.console import CONSOLE
    from ecslite.demo import ensure_demo
    from ecslite.store.secretbox import SecretBox

    # These tests repeat identical signed requests within one second on purpose (a second
    # create is 409, a second delete 404, a racing rebuild 409); the signature's date has a
    # one-second resolution, so the default replay refusal would answer 401 instead. Replay
    # refusal itself is tested against real processes (tests/e2e/test_replay.py).
    settings.setdefault("refuse_replayed_signatures", False)
    for database_url in template.copy(tmp_path / "data"):
        s = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            enable_admin=True,
            poll_interval=0.05,
            **settings,
        )
        container = build(s, upgrade_schema=True)
        box = SecretBox.from_file(s.data_dir / "master.key")
        # The template holds the demo tenant already (apply_seed would add nothing).
        demo, doc = ensure_demo(s.data_dir, "http://testserver")
        app = create_app(
            container, secret_box=box, enable_admin=True, reset_seeds=[doc], mounts=[CONSOLE]
        )
        container.start_runner()
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                # Every request is signed like the official SDK signs it.
                client.auth = SdkHmacAuth(
                    demo["access_key"], demo["secret_key"], demo["project_id"]
                )
                api = Api(client, demo, s.data_dir)
                api.database_url = database_url
                yield api
        finally:
            container.close()


@pytest.fixture
def api(tmp_path: Path, seeded_template: SeededTemplate) -> Iterator[Api]:
    """The app with the demo tenant, sim driver without delay."""
    yield from _make_api(tmp_path, seeded_template)


@pytest.fixture
def slow_api(tmp_path: Path, seeded_template: SeededTemplate) -> Iterator[Api]:
    """The same, with every sim step taking 0.2 s so jobs can be watched while they run."""
    yield from _make_api(tmp_path, seeded_template, sim_delay=0.2)
