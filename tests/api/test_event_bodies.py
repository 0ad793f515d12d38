"""Every event body is exactly what GET answers in the transaction that made the change.

The recorder renders job bodies from the copy the transaction followed through its own writes
and server bodies from one joined read; here each body it appends is compared, inside that
same transaction, with the body built the way nothing is assumed: the job and every part of
the server read afresh, statement by statement.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecslite.api.views import job_view, server_detail
from ecslite.services.read_model import records
from ecslite.store.events import EventRecorder
from ecslite.store.jobs import JobRepo
from tests.api.test_create_rules import body as create_body
from tests.conftest import Api


class Checked:
    def __init__(self) -> None:
        self.bodies: dict[str, int] = {"job": 0, "server": 0}
        self.mismatches: list[tuple[str, Any, Any]] = []

    def compare(self, uow: Any, row: dict[str, Any]) -> None:
        sent = json.loads(str(row["payload"]))
        if row["kind"] == "job":
            job = JobRepo(uow.conn).get(str(row["job_id"]))  # a fresh repository: a read
            assert job is not None
            expected: Any = job_view(job)
        else:
            server = uow.servers.get(str(row["server_id"]))
            assert server is not None
            expected = {"server": server_detail(records(uow, [server])[0])}
        self.bodies[str(row["kind"])] += 1
        if sent != expected:
            self.mismatches.append((str(row["kind"]), sent, expected))


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Checked:
    seen = Checked()
    original = EventRecorder.record

    def record(self: Any, uow: Any, changes: Any) -> bool:
        append = uow.events.append

        def checked_append(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                seen.compare(uow, row)
            append(rows)

        uow.events.append = checked_append
        return bool(original(self, uow, changes))

    monkeypatch.setattr(EventRecorder, "record", record)
    return seen


def _action(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.client.post(f"/v1/{api.project}/cloudservers/action", json=body)
    assert resp.status_code == 200, resp.text
    return api.wait(resp.json()["job_id"])


def test_every_event_body_of_a_server_lifecycle_is_what_get_answers(
    api: Api, checked: Checked
) -> None:
    create = api.client.post(f"/v1/{api.project}/cloudservers", json=create_body(api))
    assert create.status_code == 200, create.text
    created = api.wait(create.json()["job_id"])
    assert created["status"] == "SUCCESS", created
    sid = created["entities"]["sub_jobs"][0]["entities"]["server_id"]

    assert (
        api.wait(api.reinstall(sid, mode="withStopServer", **api.key_login()).json()["job_id"])[
            "status"
        ]
        == "SUCCESS"
    )
    servers = {"servers": [{"id": sid}]}
    assert _action(api, {"os-stop": servers})["status"] == "SUCCESS"
    assert _action(api, {"os-start": servers})["status"] == "SUCCESS"
    assert _action(api, {"reboot": {"type": "SOFT", **servers}})["status"] == "SUCCESS"
    # A failed step rolls the reinstall back: the rollback's bodies are checked too.
    api.inject("attachSystemDisk", sid)
    failed = api.wait(api.reinstall(sid, mode="withStopServer", **api.key_login()).json()["job_id"])
    assert failed["status"] == "FAIL", failed
    delete = api.client.post(f"/v1/{api.project}/cloudservers/delete", json=servers)
    assert api.wait(delete.json()["job_id"])["status"] == "SUCCESS"

    assert checked.mismatches == []
    # Each job has several job events and the server changed visibly in each.
    assert checked.bodies["job"] >= 30 and checked.bodies["server"] >= 10, checked.bodies
