"""A Nova rebuild of a SHUTOFF server survives the process dying around its last two steps
(deleting the old disk, then powering the rebuilt server off again): after a restart the job
ends SUCCESS and the server is SHUTOFF, idle, on exactly one system disk, with no volume record
left behind. The other steps are the reinstall's, covered by the crash matrix."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support import TERMINAL, Service, poll

pytestmark = pytest.mark.process

FAST_LEASES = {"ECSLITE_LEASE_SECONDS": "2"}


def _rebuild(svc: Service, sid: str) -> None:
    d = svc.demo
    with svc.http() as http:
        resp = http.post(
            f"/v2.1/{d['project_id']}/servers/{sid}/action",
            json={"rebuild": {"imageRef": d["images"]["cloudinit"]}},
        )
    assert resp.status_code == 202, resp.text


def _job_of(database_url: str, sid: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        job_id = conn.execute(
            text("SELECT id FROM jobs WHERE server_id = :s ORDER BY created DESC"), {"s": sid}
        ).first()
    engine.dispose()
    assert job_id is not None
    return str(job_id[0])


def _loose_volumes(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id FROM volumes WHERE server_id IS NULL AND image_id IS NOT NULL")
        ).all()
    engine.dispose()
    return [r[0] for r in rows]


def _get(svc: Service, path: str) -> dict[str, Any]:
    with svc.http() as http:
        resp = http.get(path)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.parametrize("step", ["deleteOldSystemDisk", "stopRebuiltServer"])
@pytest.mark.parametrize("point", ["before_act", "after_act", "after_record"])
def test_crash_near_the_end_of_a_shutoff_rebuild(
    tmp_path: Path, database_url: str, step: str, point: str
) -> None:
    data = tmp_path / "data"
    crashing = Service(
        data,
        database_url=database_url,
        env={**FAST_LEASES, "ECSLITE_FAILPOINTS": f"{point}:{step}"},
    ).start()
    sid = crashing.demo["servers"]["stopped"]
    try:
        # It may die before answering: the job was committed first.
        with contextlib.suppress(httpx.TransportError):
            _rebuild(crashing, sid)
        assert crashing.proc is not None
        assert crashing.proc.wait(60) == 137, crashing.log()[-2000:]
    finally:
        crashing.kill()
    job_id = _job_of(database_url, sid)
    svc = Service(data, port=crashing.port, database_url=database_url, env=FAST_LEASES).start()
    try:
        p = svc.demo["project_id"]
        job = poll(
            lambda: _get(svc, f"/v1/{p}/jobs/{job_id}"),
            until=lambda j: j["status"] in TERMINAL,
            timeout=90,
        )
        assert job["status"] == "SUCCESS", job
        steps = [s["job_type"] for s in job["entities"]["sub_jobs"]]
        assert steps[-2:] == ["deleteOldSystemDisk", "stopRebuiltServer"]
        server = _get(svc, f"/v2.1/{p}/servers/{sid}")["server"]
        assert (server["status"], server["OS-EXT-STS:task_state"]) == ("SHUTOFF", None)
        attached = _get(svc, f"/v1/{p}/cloudservers/{sid}")["server"][
            "os-extended-volumes:volumes_attached"
        ]
        assert [v["bootIndex"] for v in attached].count("0") == 1
        assert _loose_volumes(database_url) == []
    finally:
        svc.stop()
