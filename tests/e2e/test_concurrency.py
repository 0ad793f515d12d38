"""Races against a real process: one reinstall per server wins, power actions never interleave
with a reinstall, and a burst over a fleet all succeeds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support import TERMINAL, Service, fleet_client, poll, write_fleet_seed

FLEET = 210


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("fleet")
    ids = write_fleet_seed(base / "seed.yaml", FLEET)
    # The races send identical signed requests in the same second on purpose: the store's
    # compare-and-swap, not replay refusal, must pick one.
    svc = Service(
        base / "data",
        "--seed",
        str(base / "seed.yaml"),
        "--sim-delay",
        "0.02",
        # Bursts of 50 from one address: on a busy machine more than the default 32 may be
        # part-way through their head or body at once, which the per-source abuse limits
        # (tested in test_abuse_budgets.py) would refuse; here the subject is the store.
        env={
            "ECSLITE_REFUSE_REPLAYED_SIGNATURES": "false",
            "ECSLITE_MAX_HEADS_PER_SOURCE": "100",
            "ECSLITE_MAX_BODY_SENDERS_PER_SOURCE": "100",
        },
    ).start()
    try:
        yield svc, ids
    finally:
        svc.stop()


def _burst(n: int, fn: Any) -> list[Any]:
    """Run ``fn(i)`` for i in range(n) released at the same instant."""
    gate = threading.Barrier(n)

    def run(i: int) -> Any:
        gate.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _job(http: httpx.Client, project: str, job_id: str) -> dict[str, Any]:
    return dict(http.get(f"/v1/{project}/jobs/{job_id}").json())


def test_fifty_simultaneous_reinstalls_of_one_server_make_one_job(
    fleet: tuple[Service, dict[str, Any]],
) -> None:
    svc, ids = fleet
    sid, project = ids["servers"][0], ids["project"]
    clients = [fleet_client(svc, ids) for _ in range(50)]
    body = {"os-reinstall": {"adminpass": "Race-Cond-1"}}
    responses = _burst(
        50, lambda i: clients[i].post(f"/v2/{project}/cloudservers/{sid}/reinstallos", json=body)
    )
    accepted = [r for r in responses if r.status_code == 200]
    assert len(accepted) == 1, [r.status_code for r in responses]
    refused = [r for r in responses if r is not accepted[0]]
    assert len(refused) == 49
    assert all(r.status_code == 400 and r.json()["error"]["code"] == "Ecs.0100" for r in refused), [
        (r.status_code, r.text[:200]) for r in refused if r.status_code != 400
    ]
    job = poll(
        lambda: _job(clients[0], project, accepted[0].json()["job_id"]),
        until=lambda j: j["status"] in TERMINAL,
    )
    assert job["status"] == "SUCCESS"
    for c in clients:
        c.close()


def test_a_burst_over_the_fleet_all_succeeds(fleet: tuple[Service, dict[str, Any]]) -> None:
    svc, ids = fleet
    project = ids["project"]
    targets = ids["servers"][10 : 10 + 200]
    clients = [fleet_client(svc, ids) for _ in range(20)]
    body = {"os-reinstall": {"adminpass": "Fleet-Wide-1"}}

    def submit(i: int) -> str:
        resp = clients[i % 20].post(
            f"/v2/{project}/cloudservers/{targets[i]}/reinstallos", json=body
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["job_id"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        job_ids = list(pool.map(submit, range(len(targets))))
    for job_id in job_ids:
        job = poll(
            lambda j=job_id: _job(clients[0], project, j),
            until=lambda j: j["status"] in TERMINAL,
            timeout=120,
        )
        assert job["status"] == "SUCCESS", job
    listed = clients[0].get(f"/v1/{project}/cloudservers/detail", params={"limit": 1000}).json()
    status = {s["id"]: s["status"] for s in listed["servers"]}
    assert all(status[sid] == "ACTIVE" for sid in targets)
    for c in clients:
        c.close()


@pytest.mark.parametrize("action", ["os-stop", "os-start"])
def test_power_action_racing_a_reinstall_never_both_apply(
    fleet: tuple[Service, dict[str, Any]], action: str
) -> None:
    svc, ids = fleet
    project = ids["project"]
    sid = ids["servers"][1 if action == "os-stop" else 2]
    a, b = fleet_client(svc, ids), fleet_client(svc, ids)
    reinstall = {"os-reinstall": {"adminpass": "Race-Cond-1"}}
    power = {action: {"servers": [{"id": sid}]}}
    for _ in range(5):
        r1, r2 = _burst(
            2,
            lambda i: (
                a.post(f"/v2/{project}/cloudservers/{sid}/reinstallos", json=reinstall)
                if i == 0
                else b.post(f"/v1/{project}/cloudservers/action", json=power)
            ),
        )
        winners = [r for r in (r1, r2) if r.status_code == 200]
        losers = [r for r in (r1, r2) if r.status_code != 200]
        assert len(winners) >= 1
        assert all(r.status_code == 400 and r.json()["error"]["code"] == "Ecs.0100" for r in losers)
        for w in winners:
            assert _wait(a, project, w.json()["job_id"])["status"] == "SUCCESS"
        if len(winners) == 2:
            # Both accepted can only mean one finished before the other was submitted.
            first, second = (_job(a, project, w.json()["job_id"]) for w in winners)
            assert (
                first["end_time"] <= second["begin_time"]
                or second["end_time"] <= first["begin_time"]
            )
        # Return the server to SHUTOFF for the next round.
        server = a.get(f"/v1/{project}/cloudservers/{sid}").json()["server"]
        if server["status"] == "ACTIVE":
            stop = a.post(
                f"/v1/{project}/cloudservers/action", json={"os-stop": {"servers": [{"id": sid}]}}
            )
            assert _wait(a, project, stop.json()["job_id"])["status"] == "SUCCESS"
    a.close()
    b.close()


def _wait(http: httpx.Client, project: str, job_id: str) -> dict[str, Any]:
    return dict(
        poll(
            lambda: _job(http, project, job_id), until=lambda j: j["status"] in TERMINAL, timeout=60
        )
    )
