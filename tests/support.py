"""Helpers shared by the test suites: ports, polling, a real service process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TERMINAL = ("SUCCESS", "FAIL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(fn: Callable[[], Any], *, until: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Call ``fn`` until ``until(result)``; fail the test if that takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last value: {value!r}")
        time.sleep(0.02)


@contextmanager
def fresh_postgres_database(
    server_url: str, *, template: str | None = None, prefix: str = "ecslite_test_"
) -> Iterator[str]:
    """Create a uniquely named database on ``server_url`` (a copy of ``template`` if given, which
    nobody may be connected to); drop it afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_MIGRATED: set[str] = set()


def migrate_once(database_url: str) -> None:
    """Bring a shared database to the current schema in this process, once per database: the
    set-up before a Service starts on it (tests/e2e/test_scale_out.py runs the CLI, as an
    operator would, for its own databases)."""
    if database_url in _MIGRATED:
        return
    from ecslite.store import migrate as schema
    from ecslite.store.engine import make_engine

    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()
    _MIGRATED.add(database_url)


def migrate(database_url: str) -> None:
    """Run ``ecslite db upgrade`` as an operator would before starting shared-store processes."""
    subprocess.run(
        [sys.executable, "-m", "ecslite", "db", "upgrade", "--database-url", database_url],
        check=True,
        capture_output=True,
        timeout=120,
    )


def write_fleet_seed(path: Path, count: int) -> dict[str, Any]:
    """Write a seed with one tenant and ``count`` stopped servers (system + data disk each)."""
    import yaml

    ids: dict[str, Any] = {
        "domain": uuid.uuid4().hex,
        "user": uuid.uuid4().hex,
        "project": uuid.uuid4().hex,
        "ak": "FLEET" + uuid.uuid4().hex[:15].upper(),
        "sk": uuid.uuid4().hex + uuid.uuid4().hex,
        "image": str(uuid.uuid4()),
        "servers": [str(uuid.uuid4()) for _ in range(count)],
    }
    doc = {
        "domains": [{"id": ids["domain"], "name": "fleet"}],
        "users": [{"id": ids["user"], "name": "fleet-user", "domain_id": ids["domain"]}],
        "projects": [{"id": ids["project"], "name": "eu-de_fleet", "domain_id": ids["domain"]}],
        "access_keys": [{"access_key": ids["ak"], "secret_key": ids["sk"], "user_id": ids["user"]}],
        "images": [{"id": ids["image"], "name": "Debian 12"}],
        "servers": [
            {
                "id": sid,
                "project_id": ids["project"],
                "user_id": ids["user"],
                "name": f"s{i}",
                "image_id": ids["image"],
                "status": "SHUTOFF",
                "system_disk": {"id": str(uuid.uuid4())},
                "data_disks": [{"id": str(uuid.uuid4())}],
            }
            for i, sid in enumerate(ids["servers"])
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return ids


def fleet_client(svc: Service, ids: dict[str, Any]) -> httpx.Client:
    from ecslite.auth.httpx_auth import SdkHmacAuth

    auth = SdkHmacAuth(ids["ak"], ids["sk"], ids["project"])
    return httpx.Client(base_url=svc.endpoint, auth=auth, timeout=30)


class Service:
    """A real ``ecslite serve`` process on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        port: int | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        demo: bool = True,
    ) -> None:
        self.env = env or {}
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra = extra
        self.demo_tenant = demo
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"service-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        cmd = [
            sys.executable,
            "-m",
            "ecslite",
            "serve",
            *(["--demo"] if self.demo_tenant else []),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.extra,
        ]
        if self.database_url:
            if not self.database_url.startswith("sqlite"):
                migrate_once(self.database_url)
            cmd += ["--database-url", self.database_url]
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        poll(self._ready, until=bool, timeout=60)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"service exited early:\n{self.log_path.read_text()}")
        try:
            httpx.get(f"{self.endpoint}/v1/none/jobs/none", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    @property
    def demo(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "demo.json").read_text()))

    def http(self) -> httpx.Client:
        """A client signed with the demo tenant's access key, as the official SDK signs."""
        from ecslite.auth.httpx_auth import SdkHmacAuth

        demo = self.demo
        auth = SdkHmacAuth(demo["access_key"], demo["secret_key"], demo["project_id"])
        return httpx.Client(base_url=self.endpoint, auth=auth, timeout=10)

    def kill(self) -> None:
        """SIGKILL the process, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
