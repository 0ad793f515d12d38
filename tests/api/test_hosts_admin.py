"""Hosts as the operator and the clients see them, in one process: the admin API's host list
and enable/disable, placement refusing with a clear fault, availability zones, a down host's
servers refusing new operations (ECS and Nova), Nova's host_status, and failing a stuck job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.api.test_create_rules import body, counts, create
from tests.conftest import Api, SeededTemplate, _make_api
from tests.support import poll


@pytest.fixture
def api(tmp_path: Path, seeded_template: SeededTemplate) -> Iterator[Api]:
    # Beats every 100 s: a test that ages a heartbeat by hand is not undone mid-test.
    yield from _make_api(tmp_path, seeded_template, host_down_after=300.0)


def sql(api: Api, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(api.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def hosts(api: Api) -> dict[str, dict[str, Any]]:
    resp = api.client.get("/_ecslite/admin/hosts")
    assert resp.status_code == 200, resp.text
    return {h["id"]: h for h in resp.json()["hosts"]}


def add_host(api: Api, host_id: str, *, zone: str = "eu-de-01", up: bool = True) -> None:
    sql(
        api,
        "INSERT INTO hosts (id, driver, address, availability_zone, vcpus, ram_mb, disk_gb,"
        " cpu_ratio, ram_ratio, disk_ratio, enabled, heartbeat, down_after) VALUES (:id, 'sim',"
        " '127.0.0.1', :zone, 8, 8192, 500, 4, 1, 1, true, :beat, 30)",
        id=host_id,
        zone=zone,
        beat=time.time() if up else time.time() - 3600,
    )


def test_the_local_host_is_listed_up_with_what_it_holds(api: Api) -> None:
    local = hosts(api)["local"]
    assert (local["state"], local["status"], local["driver"]) == ("up", "UP", "sim")
    assert local["availability_zone"] == "eu-de-01"
    assert local["servers"] == int(sql(api, "SELECT count(*) FROM servers")[0][0]) > 0
    assert 0 <= local["heartbeat_age"] < 300
    assert local["allocated"]["ram_mb"] > 0 and local["running_jobs"] == 0


def test_a_disabled_host_takes_no_create_and_nothing_is_left_behind(api: Api) -> None:
    before = counts(api)
    resp = api.client.post("/_ecslite/admin/hosts/local/disable", json={"reason": "repair"})
    assert resp.status_code == 200 and resp.json()["host"]["status"] == "MAINTENANCE"
    refused = create(api, body(api))
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "Ecs.0319" and "no host is enabled" in error["message"]
    assert counts(api) == before
    assert api.client.post("/_ecslite/admin/hosts/local/enable", json={}).status_code == 200
    resp = create(api, body(api))
    assert resp.status_code == 200, resp.text
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    (sid,) = resp.json()["serverIds"]
    server = api.server(sid)
    assert server["OS-EXT-SRV-ATTR:host"] == "local"
    assert server["OS-EXT-AZ:availability_zone"] == "eu-de-01"


def test_a_create_too_big_for_every_host_is_refused_with_the_reason(api: Api) -> None:
    sql(api, "UPDATE hosts SET ram_mb = 512")
    refused = create(api, body(api))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Ecs.0319"
    assert "1024 MB RAM" in refused.json()["error"]["message"]


def test_zones_are_the_regions_and_placement_honours_the_one_asked_for(api: Api) -> None:
    add_host(api, "h2", zone="eu-de-02")
    listed = api.client.get(f"/v2.1/{api.project}/os-availability-zone").json()
    assert [z["zoneName"] for z in listed["availabilityZoneInfo"]] == ["eu-de-01", "eu-de-02"]
    resp = create(api, body(api, availability_zone="eu-de-02"))
    assert resp.status_code == 200, resp.text
    (sid,) = resp.json()["serverIds"]
    # Nobody runs h2: the server waits there, placed, in BUILD.
    assert (api.server(sid)["OS-EXT-SRV-ATTR:host"], api.server(sid)["status"]) == ("h2", "BUILD")
    assert hosts(api)["h2"]["running_jobs"] == 1
    legacy = create(api, body(api, availability_zone="az1"))  # what older clients send
    assert legacy.status_code == 200, legacy.text
    unknown = create(api, body(api, availability_zone="eu-de-09"))
    assert unknown.status_code == 400
    assert "eu-de-09 does not exist" in unknown.json()["error"]["message"]


def test_a_down_hosts_servers_refuse_new_operations_and_nova_says_down(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    nova = {"OpenStack-API-Version": "compute 2.16"}
    shown = api.client.get(f"/v2.1/{api.project}/servers/{sid}", headers=nova).json()
    assert shown["server"]["host_status"] == "UP"
    old = api.client.get(f"/v2.1/{api.project}/servers/{sid}", headers={}).json()
    assert "host_status" not in old["server"]  # before 2.16
    sql(api, "UPDATE hosts SET heartbeat = :t", t=time.time() - 301)
    assert hosts(api)["local"]["state"] == "down"
    shown = api.client.get(f"/v2.1/{api.project}/servers/{sid}", headers=nova).json()
    assert shown["server"]["host_status"] == "DOWN"
    assert api.server(sid)["host_status"] == "DOWN"  # ECS ShowServer says the same
    refused = api.reinstall(sid, **api.key_login())
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Ecs.0100"
    assert "host local is down" in refused.json()["error"]["message"]
    start = api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action", json={"os-start": None}, headers=nova
    )
    assert start.status_code in (400, 409), start.text
    assert "host local is down" in str(start.json())


def test_failing_a_job_whose_host_is_gone_frees_its_server_for_a_reinstall(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    add_host(api, "gone")
    sql(api, "UPDATE servers SET host_id = 'gone' WHERE id = :s", s=sid)
    accepted = api.reinstall(sid, **api.key_login())
    assert accepted.status_code == 200, accepted.text
    job_id = accepted.json()["job_id"]
    assert api.job(job_id)["status"] == "INIT"  # bound to gone: no runner here takes it
    sql(api, "UPDATE hosts SET heartbeat = 0 WHERE id = 'gone'")
    # Still working on it: a new operation is refused.
    assert api.reinstall(sid, **api.key_login()).status_code == 400
    resp = api.client.post(
        f"/_ecslite/admin/jobs/{job_id}/fail", json={"reason": "host gone lost its disk"}
    )
    assert resp.status_code == 202, resp.text
    job = api.job(job_id)
    assert (job["status"], job["fail_reason"]) == ("FAIL", "host gone lost its disk")
    server = api.server(sid)
    assert server["status"] == "ERROR" and server["fault"]["message"] == "host gone lost its disk"
    again = api.client.post(f"/_ecslite/admin/jobs/{job_id}/fail", json={"reason": "again"})
    assert again.status_code == 400
    sql(api, "UPDATE hosts SET heartbeat = :t WHERE id = 'gone'", t=time.time())
    retried = api.reinstall(sid, **api.key_login())
    assert retried.status_code == 200, retried.text


def test_unknown_hosts_and_jobs_are_404_and_400(api: Api) -> None:
    assert api.client.get("/_ecslite/admin/hosts/nope").status_code == 404
    assert api.client.post("/_ecslite/admin/hosts/nope/disable", json={}).status_code == 404
    resp = api.client.post("/_ecslite/admin/jobs/nope/fail", json={"reason": "x"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Common.0011"
    assert api.client.post("/_ecslite/admin/jobs/nope/fail", json={}).status_code == 400


def test_a_batch_across_hosts_is_one_job_with_a_part_per_host(api: Api) -> None:
    here, there = api.demo["servers"]["running"], api.demo["servers"]["stopped"]
    add_host(api, "h2")
    sql(api, "UPDATE servers SET host_id = 'h2' WHERE id = :s", s=there)
    sql(api, "UPDATE servers SET vm_state = 'active' WHERE id = :s", s=there)
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/action",
        json={"os-stop": {"type": "SOFT", "servers": [{"id": here}, {"id": there}]}},
    )
    assert resp.status_code == 200, resp.text
    job_id = resp.json()["job_id"]
    parts = dict(sql(api, "SELECT host_id, id FROM jobs WHERE parent_id = :j", j=job_id))
    assert set(parts) == {"local", "h2"}
    # The local part runs here; h2's waits for a runner of h2. The caller sees one job.
    poll(
        lambda: sql(api, "SELECT status FROM jobs WHERE id = :p", p=parts["local"])[0][0],
        until=lambda status: status == "SUCCESS",
    )
    poll_job = api.job(job_id)
    assert poll_job["status"] == "RUNNING"
    by_server = {s["entities"]["server_id"]: s["status"] for s in poll_job["entities"]["sub_jobs"]}
    assert by_server == {here: "SUCCESS", there: "INIT"}
    assert api.server(here)["status"] == "SHUTOFF"
    # The stream names the whole job only, never a part.
    streamed = {r[0] for r in sql(api, "SELECT DISTINCT job_id FROM events WHERE kind = 'job'")}
    assert job_id in streamed and not streamed & set(parts.values())
    sql(api, "UPDATE hosts SET heartbeat = 0 WHERE id = 'h2'")
    resp = api.client.post(f"/_ecslite/admin/jobs/{job_id}/fail", json={"reason": "h2 gone"})
    assert resp.status_code == 202, resp.text
    job = api.job(job_id)
    assert (job["status"], job["fail_reason"]) == ("FAIL", "h2 gone")
    assert api.server(there)["status"] == "ERROR"
    assert api.server(here)["status"] == "SHUTOFF"


def test_cancelling_marks_an_unfinished_job_and_refuses_an_ended_or_unknown_one(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    add_host(api, "gone")
    sql(api, "UPDATE servers SET host_id = 'gone' WHERE id = :s", s=sid)
    accepted = api.reinstall(sid, **api.key_login())
    assert accepted.status_code == 200, accepted.text
    job_id = accepted.json()["job_id"]
    resp = api.client.post(f"/_ecslite/admin/jobs/{job_id}/cancel")
    assert resp.status_code == 202, resp.text
    # Marked for the runner of gone, which would undo it at its next step; none runs here.
    marked = resp.json()["job"]
    assert (marked["status"], marked["cancel_requested"], marked["cancelled"]) == (
        "INIT",
        True,
        False,
    )
    assert api.client.get(f"/_ecslite/admin/jobs/{job_id}").json()["job"] == marked
    # Its host never comes back: failing it is the way out, after which a cancel is refused.
    sql(api, "UPDATE hosts SET heartbeat = 0 WHERE id = 'gone'")
    failed = api.client.post(f"/_ecslite/admin/jobs/{job_id}/fail", json={"reason": "gone"})
    assert failed.status_code == 202, failed.text
    refused = api.client.post(f"/_ecslite/admin/jobs/{job_id}/cancel")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "Ecs.0005"
    assert f"Job {job_id} ended FAIL" in refused.json()["error"]["message"]
    unknown = api.client.post("/_ecslite/admin/jobs/nope/cancel")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "Common.0011"
    assert api.client.get("/_ecslite/admin/jobs/nope").status_code == 400
