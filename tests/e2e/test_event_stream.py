"""The event stream (GET /v1/{project_id}/events) of a real process: a reinstall's events in
order up to the terminal one, resuming with Last-Event-ID, credentials and the CLI watcher."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support import Service

pytestmark = pytest.mark.process

RANK = {"INIT": 0, "RUNNING": 1, "SUCCESS": 2, "FAIL": 2}


@pytest.fixture
def svc(tmp_path: Path, database_url: str) -> Iterator[Service]:
    # Each step takes a little time, so the stream is read while the job runs.
    s = Service(tmp_path / "data", "--sim-delay", "0.05", database_url=database_url).start()
    try:
        yield s
    finally:
        s.stop()


def stream(
    client: httpx.Client, project: str, *, last_id: str | None = None, **filters: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """Read a stream that ends by itself; return (id, event, data) for every event."""
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    out = []
    with connect_sse(
        client, "GET", f"/v1/{project}/events", params=filters, headers=headers
    ) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for ev in source.iter_sse():
            out.append((ev.id, ev.event, json.loads(ev.data)))
    return out


def reinstall(client: httpx.Client, demo: dict[str, Any], server: str) -> str:
    resp = client.post(
        f"/v2/{demo['project_id']}/cloudservers/{server}/reinstallos",
        json={"os-reinstall": {"keyname": demo["keypair"]["name"], "userid": demo["user_id"]}},
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["job_id"])


def assert_progress_in_order(job_events: list[dict[str, Any]]) -> None:
    """Sub-jobs never go back, and one starts only after the one before it succeeded."""
    before: list[int] | None = None
    for job in job_events:
        ranks = [RANK[s["status"]] for s in job["entities"]["sub_jobs"]]
        if before is not None:
            assert all(a <= b for a, b in zip(before, ranks, strict=True)), (before, ranks)
        for earlier, later in itertools.pairwise(ranks):
            assert later == 0 or earlier == 2, ranks
        before = ranks


def test_a_reinstall_streams_to_its_terminal_event_and_resumes_without_loss(svc: Service) -> None:
    demo = svc.demo
    project, server = demo["project_id"], demo["servers"]["stopped"]
    with svc.http() as client:
        job_id = reinstall(client, demo, server)
        live = stream(client, project, job_id=job_id)

        # The stream ended by itself, on the job's terminal event, exactly as GET shows the job.
        last_id, kind, body = live[-1]
        assert kind == "job" and body["status"] == "SUCCESS"
        assert body == client.get(f"/v1/{project}/jobs/{job_id}").json()
        final_server = [d for _, k, d in live if k == "server"][-1]
        assert final_server == client.get(f"/v1/{project}/cloudservers/{server}").json()
        assert final_server["server"]["status"] == "ACTIVE"
        # It opened with the current state; ids never go back.
        ids = [int(i) for i, _, _ in live]
        assert ids == sorted(ids)
        assert_progress_in_order([d for _, k, d in live if k == "job"])

        # The whole history, from before the job was accepted.
        history = stream(client, project, last_id="0", job_id=job_id)
        jobs = [d for _, k, d in history if k == "job"]
        assert jobs[0]["status"] == "INIT"
        assert all(s["status"] == "INIT" for s in jobs[0]["entities"]["sub_jobs"])
        assert jobs[-1] == body and history[-1][0] == last_id
        assert_progress_in_order(jobs)
        steps = [s["job_type"] for s in body["entities"]["sub_jobs"]]
        started = {
            (i, s["status"])
            for j in jobs
            for i, s in enumerate(j["entities"]["sub_jobs"])
            if s["status"] != "INIT"
        }
        assert {(i, "SUCCESS") for i in range(len(steps))} <= started
        assert len({i for i, _, _ in history}) == len(history)  # every event has its own id
        servers = [d["server"] for _, k, d in history if k == "server"]
        assert servers[0]["status"] == "REBUILD" and servers[-1]["status"] == "ACTIVE"

        # Resuming from any event gives exactly the events after it: none lost, none repeated.
        for cut in (1, len(history) // 2, len(history) - 2):
            resumed = stream(client, project, last_id=history[cut][0], job_id=job_id)
            assert resumed == history[cut + 1 :]
        # Resuming after the terminal event ends at once.
        assert stream(client, project, last_id=last_id, job_id=job_id) == []
        # A finished job's stream opens with its final state (its server, then itself) and ends.
        reopened = stream(client, project, job_id=job_id)
        assert [(k, d) for _, k, d in reopened] == [("server", final_server), ("job", body)]
        assert {i for i, _, _ in reopened} == {last_id}


def test_server_filter_and_project_stream_carry_the_servers_events(svc: Service) -> None:
    demo = svc.demo
    project, server = demo["project_id"], demo["servers"]["stopped"]
    with svc.http() as client:
        job_id = reinstall(client, demo, server)
        done = stream(client, project, job_id=job_id)
        end_id = done[-1][0]
        # Unfiltered and server-filtered streams never end: read one page of history.
        with connect_sse(
            client,
            "GET",
            f"/v1/{project}/events",
            params={"server_id": server},
            headers={"Last-Event-ID": "0"},
        ) as source:
            got = []
            for ev in source.iter_sse():
                got.append((ev.id, ev.event, json.loads(ev.data)))
                if ev.id == end_id:
                    break
        assert got == [e for e in stream(client, project, last_id="0", job_id=job_id)]
        with connect_sse(client, "GET", f"/v1/{project}/events") as source:
            opening = []
            for ev in source.iter_sse():
                opening.append((ev.event, json.loads(ev.data)))
                if len(opening) == len(demo["servers"]):
                    break
        shown = {d["server"]["id"]: d for k, d in opening if k == "server"}
        assert shown[server] == client.get(f"/v1/{project}/cloudservers/{server}").json()


def test_stream_refuses_missing_credentials_and_bad_filters(svc: Service) -> None:
    demo = svc.demo
    project = demo["project_id"]
    anonymous = httpx.get(f"{svc.endpoint}/v1/{project}/events", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "Common.0013"
    with svc.http() as client:
        other = client.get(f"/v1/{'0' * 32}/events")
        assert other.status_code == 400 and other.json()["error"]["code"] == "Common.0018"
        unknown = client.get(f"/v1/{project}/events", params={"job_id": "nope"})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "Common.0011"
        no_server = client.get(f"/v1/{project}/events", params={"server_id": "nope"})
        assert no_server.status_code == 404
        assert no_server.json()["error"]["code"] == "Ecs.0114"
        bad = client.get(f"/v1/{project}/events", headers={"Last-Event-ID": "x1"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "Ecs.0005"


def test_cli_jobs_watch_prints_each_step_until_the_end(svc: Service) -> None:
    demo = svc.demo
    with svc.http() as client:
        job_id = reinstall(client, demo, demo["servers"]["stopped"])
    out = subprocess.run(
        [sys.executable, "-m", "ecslite", "jobs", "watch", job_id, "--data-dir", str(svc.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == f"job {job_id} SUCCESS"
    assert any("step 7/7 deleteOldSystemDisk" in line and "SUCCESS" in line for line in lines)


def test_each_tenants_stream_carries_only_its_own_events(svc: Service) -> None:
    """Every stream of a process is fed by one shared reader of the store (api/event_tail.py):
    another tenant's stream, open while this tenant's reinstall runs, gets none of its events,
    and does get its own next change."""
    from ecslite.auth.httpx_auth import SdkHmacAuth

    demo = svc.demo
    other = demo["other_project"]
    auth = SdkHmacAuth(other["access_key"], other["secret_key"], other["project_id"])
    with (
        svc.http() as client,
        httpx.Client(base_url=svc.endpoint, auth=auth, timeout=30) as them,
        connect_sse(them, "GET", f"/v1/{other['project_id']}/events") as theirs,
    ):
        assert theirs.response.status_code == 200
        job_id = reinstall(client, demo, demo["servers"]["stopped"])
        ours = stream(client, demo["project_id"], job_id=job_id)
        assert ours[-1][1] == "job" and ours[-1][2]["status"] == "SUCCESS"
        start = them.post(
            f"/v1/{other['project_id']}/cloudservers/action",
            json={"os-start": {"servers": [{"id": other["servers"]["stopped"]}]}},
        )
        assert start.status_code == 200, start.text
        their_job = start.json()["job_id"]
        seen: list[tuple[str, dict[str, Any]]] = []
        for ev in theirs.iter_sse():
            body = json.loads(ev.data)
            seen.append((ev.event, body))
            if ev.event == "job" and body["job_id"] == their_job and body["status"] == "SUCCESS":
                break
    theirs_servers = set(other["servers"].values())
    assert {b["server"]["id"] for k, b in seen if k == "server"} <= theirs_servers
    assert {b["job_id"] for k, b in seen if k == "job"} == {their_job}
