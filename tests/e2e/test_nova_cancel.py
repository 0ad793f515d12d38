"""Nova's delete of a server still being built, through openstacksdk against a real
``ecslite serve`` whose sim steps take time: the create is cancelled and rolled back, nothing is
left (server, disks, ports) and the quota is released — also when the service is killed after
the cancellation was recorded and restarted (the mark is durable; the resumed job rolls back).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.test_crash_matrix import FAST_LEASES
from tests.support import Service, poll

pytestmark = pytest.mark.process

SIM_DELAY = "0.5"


def _rows(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql)).all())
    engine.dispose()
    return rows


def _connect(svc: Service) -> openstack.connection.Connection:
    d = svc.demo
    return openstack.connect(
        load_yaml_config=False,
        load_envvars=False,
        auth={
            "auth_url": f"{svc.endpoint}/v3",
            "username": d["user_name"],
            "password": d["password"],
            "user_domain_name": d["domain_name"],
            "project_name": d["project_name"],
            "project_domain_name": d["domain_name"],
        },
        region_name=d["region"],
        api_timeout=60,
    )


def _building(conn: openstack.connection.Connection, demo: dict[str, Any]) -> str:
    server = conn.compute.create_server(
        name="cancel-me",
        image_id=demo["images"]["cloudinit"],
        flavor_id="s3.small.1",
        networks="auto",
        admin_password="Cancel-Test-1",
    )
    poll(lambda: conn.compute.get_server(server.id).status, until="BUILD".__eq__)
    return str(server.id)


def _nothing_left(database_url: str, sid: str, volumes_before: int) -> None:
    assert _rows(database_url, f"SELECT id FROM servers WHERE id = '{sid}'") == []
    assert _rows(database_url, f"SELECT id FROM ports WHERE server_id = '{sid}'") == []
    assert len(_rows(database_url, "SELECT id FROM volumes")) == volumes_before
    (job,) = _rows(
        database_url, "SELECT status, error_code FROM jobs WHERE job_type = 'createServer'"
    )
    assert tuple(job) == ("FAIL", "Ecs.0099")


def test_delete_while_building_cancels_the_create(tmp_path: Path, database_url: str) -> None:
    svc = Service(tmp_path / "data", "--sim-delay", SIM_DELAY, database_url=database_url).start()
    try:
        conn = _connect(svc)
        used = conn.get_compute_limits().total_instances_used
        volumes = len(_rows(database_url, "SELECT id FROM volumes"))
        sid = _building(conn, svc.demo)
        assert conn.delete_server(sid, wait=True, timeout=120) is True
        _nothing_left(database_url, sid, volumes)
        assert conn.get_compute_limits().total_instances_used == used
    finally:
        svc.stop()


def test_a_recorded_cancellation_survives_a_crash(tmp_path: Path, database_url: str) -> None:
    svc = Service(
        tmp_path / "data", "--sim-delay", SIM_DELAY, database_url=database_url, env=FAST_LEASES
    ).start()
    try:
        conn = _connect(svc)
        volumes = len(_rows(database_url, "SELECT id FROM volumes"))
        sid = _building(conn, svc.demo)
        endpoint = conn.compute.get_endpoint()
        token = conn.session.get_token()

        def delete() -> None:
            # Cut off by the crash below: the request need not answer.
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(
                    f"{endpoint}/servers/{sid}", headers={"X-Auth-Token": token}, timeout=30
                )

        caller = threading.Thread(target=delete, daemon=True)
        caller.start()
        poll(
            lambda: _rows(database_url, "SELECT cancel_requested FROM jobs"),
            until=lambda rows: any(r[0] for r in rows),
        )
        svc.kill()
        caller.join(30)
        # The rollback takes several sim steps: the crash caught the job before its end.
        assert _rows(database_url, "SELECT status FROM jobs")[0][0] in ("INIT", "RUNNING")
        svc.start()
        conn = _connect(svc)
        poll(
            lambda: _rows(database_url, "SELECT status FROM jobs")[0][0],
            until=lambda s: s in ("SUCCESS", "FAIL"),
            timeout=120,
        )
        _nothing_left(database_url, sid, volumes)
        assert conn.compute.find_server(sid, ignore_missing=True) is None
    finally:
        svc.stop()
