"""Key pairs (Nova shapes) and batch stop/start jobs."""

from __future__ import annotations

from tests.conftest import Api


def test_keypair_create_show_list_delete(api: Api) -> None:
    base = f"/v2.1/{api.project}/os-keypairs"
    created = api.client.post(base, json={"keypair": {"name": "generated"}})
    assert created.status_code == 200, created.text
    kp = created.json()["keypair"]
    assert kp["name"] == "generated" and kp["private_key"].startswith("-----BEGIN")
    assert kp["public_key"].startswith("ssh-rsa ") and kp["user_id"] == api.demo["user_id"]
    assert len(kp["fingerprint"].split(":")) == 16

    names = [k["keypair"]["name"] for k in api.client.get(base).json()["keypairs"]]
    assert names == sorted(["generated", api.demo["keypair"]["name"]])

    shown = api.client.get(f"{base}/generated").json()["keypair"]
    assert shown["fingerprint"] == kp["fingerprint"] and shown["deleted"] is False
    assert "private_key" not in shown

    dup = api.client.post(base, json={"keypair": {"name": "generated"}})
    # Nova's envelope and statuses: 409 conflictingRequest, then 404 itemNotFound.
    assert dup.status_code == 409 and dup.json()["conflictingRequest"]["code"] == 409

    # No microversion means 2.1: Nova answers a delete with 202 (204 from 2.2).
    assert api.client.delete(f"{base}/generated").status_code == 202
    gone = api.client.get(f"{base}/generated")
    assert gone.status_code == 404 and gone.json()["itemNotFound"]["code"] == 404
    assert api.client.delete(f"{base}/generated").status_code == 404


def test_imported_keypair_is_used_by_reinstall(api: Api) -> None:
    base = f"/v2.1/{api.project}/os-keypairs"
    public = api.demo["keypair"]["public_key"]
    resp = api.client.post(base, json={"keypair": {"name": "imported", "public_key": public}})
    assert resp.status_code == 200
    assert "private_key" not in resp.json()["keypair"]
    sid = api.demo["servers"]["stopped"]
    job = api.wait(
        api.reinstall(sid, keyname="imported", userid=api.demo["user_id"]).json()["job_id"]
    )
    assert job["status"] == "SUCCESS"
    assert api.server(sid)["key_name"] == "imported"


def test_invalid_public_key_is_refused(api: Api) -> None:
    resp = api.client.post(
        f"/v2.1/{api.project}/os-keypairs",
        json={"keypair": {"name": "bad", "public_key": "ssh-rsa AAAAnope"}},
    )
    assert resp.status_code == 400 and resp.json()["badRequest"]["code"] == 400


def test_batch_stop_then_reinstall_then_start(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    action = f"/v1/{api.project}/cloudservers/action"
    stop = api.client.post(action, json={"os-stop": {"servers": [{"id": sid}], "type": "SOFT"}})
    assert stop.status_code == 200
    job = api.wait(stop.json()["job_id"])
    assert job["status"] == "SUCCESS" and job["job_type"] == "batchStopServers"
    assert job["entities"]["sub_jobs"][0]["entities"]["server_id"] == sid
    assert api.server(sid)["status"] == "SHUTOFF"

    assert api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])["status"] == "SUCCESS"
    assert api.server(sid)["status"] == "ACTIVE"

    stop2 = api.wait(
        api.client.post(action, json={"os-stop": {"servers": [{"id": sid}]}}).json()["job_id"]
    )
    assert stop2["status"] == "SUCCESS"
    start = api.wait(
        api.client.post(action, json={"os-start": {"servers": [{"id": sid}]}}).json()["job_id"]
    )
    assert start["status"] == "SUCCESS" and start["job_type"] == "batchStartServers"
    assert api.server(sid)["status"] == "ACTIVE"


def test_batch_with_unknown_server_changes_nothing(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/action",
        json={"os-stop": {"servers": [{"id": sid}, {"id": "no-such-server"}]}},
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "Ecs.0114"
    assert (
        api.server(sid)["status"] == "ACTIVE" and api.server(sid)["OS-EXT-STS:task_state"] is None
    )


def test_batch_body_must_name_one_action(api: Api) -> None:
    for body in (
        {},
        {"os-stop": {"servers": []}},
        {"os-stop": {"servers": [{"id": "x"}]}, "os-start": {"servers": [{"id": "x"}]}},
    ):
        resp = api.client.post(f"/v1/{api.project}/cloudservers/action", json=body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "Ecs.0005", body


def test_failed_stop_sub_job_fails_the_batch_and_frees_the_server(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    api.inject("stopServer", sid, error_code="Ecs.0002", message="hypervisor busy")
    job = api.wait(
        api.client.post(
            f"/v1/{api.project}/cloudservers/action", json={"os-stop": {"servers": [{"id": sid}]}}
        ).json()["job_id"]
    )
    assert job["status"] == "FAIL" and job["error_code"] == "Ecs.0002"
    assert job["entities"]["sub_jobs"][0]["fail_reason"] == "hypervisor busy"
    server = api.server(sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None


def test_list_servers_details_pages_and_filters(api: Api) -> None:
    base = f"/v1/{api.project}/cloudservers/detail"
    everything = api.client.get(base).json()
    own = {v for k, v in api.demo["servers"].items()}
    assert everything["count"] == len(own)
    assert {s["id"] for s in everything["servers"]} == own
    page1 = api.client.get(base, params={"limit": 2, "offset": 1}).json()
    page2 = api.client.get(base, params={"limit": 2, "offset": 2}).json()
    assert page1["count"] == len(own) and len(page1["servers"]) == 2
    assert not {s["id"] for s in page1["servers"]} & {s["id"] for s in page2["servers"]}
    active = api.client.get(base, params={"status": "ACTIVE"}).json()
    assert [s["id"] for s in active["servers"]] == [api.demo["servers"]["running"]]
    named = api.client.get(base, params={"name": "no-cloudinit"}).json()
    assert [s["id"] for s in named["servers"]] == [api.demo["servers"]["no_cloudinit"]]


def test_admin_reset_restores_the_seeded_state(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    assert api.wait(api.reinstall(sid, **api.key_login()).json()["job_id"])["status"] == "SUCCESS"
    assert api.server(sid)["status"] == "ACTIVE"
    assert api.client.post("/_ecslite/admin/reset").status_code == 204
    assert api.server(sid)["status"] == "SHUTOFF"
