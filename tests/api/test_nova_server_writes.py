"""Nova's server create, delete and update: the same create and delete jobs as ECS behind Nova's
request shapes and rules, delete in any state (a running job is cancelled and compensated
first) and every refusal in Nova's envelope."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ecslite.services.cancel import CancelJob
from tests.api.test_nova import MISSING, _action, _fault, _nova, _server, _settled
from tests.conftest import Api
from tests.support import poll


def _body(api: Api, **server: Any) -> dict[str, Any]:
    base = {
        "name": "nova-vm",
        "imageRef": api.demo["images"]["cloudinit"],
        "flavorRef": "s3.small.1",
        "networks": "none",
    }
    return {"server": base | server}


def _create(api: Api, version: str = "2.60", **server: Any) -> Any:
    return _nova(api, "POST", "/servers", version, json=_body(api, **server))


def _created(api: Api, **server: Any) -> dict[str, Any]:
    resp = _create(api, **server)
    assert resp.status_code == 202, resp.text
    return dict(resp.json()["server"])


def _active(api: Api, sid: str) -> dict[str, Any]:
    # Built: ACTIVE and no step left (the guest is ACTIVE before its boot is verified).
    return dict(
        poll(
            lambda: _server(api, sid),
            until=lambda s: s["status"] in ("ACTIVE", "ERROR") and not s["OS-EXT-STS:task_state"],
        )
    )


def _gone(api: Api, sid: str) -> None:
    poll(lambda: _nova(api, "GET", f"/servers/{sid}").status_code, until=lambda c: c == 404)


def _rows(api: Api, table: str) -> list[dict[str, Any]]:
    engine = create_engine(api.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]


def _instances_used(api: Api) -> int:
    resp = _nova(api, "GET", "/limits")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["limits"]["absolute"]["totalInstancesUsed"])


def test_create_answers_nova_shape_and_builds_the_server(api: Api) -> None:
    user_data = base64.b64encode(b"#cloud-config\nhostname: nova-vm\n").decode()
    created = _created(
        api,
        metadata={"role": "web"},
        user_data=user_data,
        accessIPv4="192.0.2.10",
        accessIPv6="2001:db8::10",
        description="from nova",
    )
    assert set(created) == {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}
    assert created["security_groups"] == [{"name": "default"}]
    assert len(created["adminPass"]) >= 8  # generated: neither a password nor a key was given
    s = _active(api, created["id"])
    assert s["status"] == "ACTIVE" and s["name"] == "nova-vm"
    assert s["metadata"] == {"role": "web"} and s["addresses"] == {}
    assert s["accessIPv4"] == "192.0.2.10" and s["accessIPv6"] == "2001:db8::10"
    assert s["description"] == "from nova" and s["key_name"] is None
    # The same server through ECS: one create, two doors.
    ecs = api.server(created["id"])
    assert ecs["name"] == "nova-vm" and ecs["status"] == "ACTIVE"


def test_create_with_key_pair_echoes_no_password_and_a_given_one_is_echoed(api: Api) -> None:
    keyed = _created(api, key_name=api.demo["keypair"]["name"])
    assert "adminPass" not in keyed
    assert _active(api, keyed["id"])["key_name"] == api.demo["keypair"]["name"]
    both = _created(api, key_name=api.demo["keypair"]["name"], adminPass="Nova-Pass-2026")
    assert both["adminPass"] == "Nova-Pass-2026"


def test_networks_auto_uuid_of_subnet_or_network(api: Api) -> None:
    d = api.demo
    for networks in ("auto", [{"uuid": d["subnet_id"]}], [{"uuid": d["vpc_id"]}]):
        sid = _created(api, networks=networks)["id"]
        addresses = _active(api, sid)["addresses"]
        assert list(addresses) == [d["vpc_id"]], (networks, addresses)
        assert addresses[d["vpc_id"]][0]["addr"].count(".") == 3
    # Before 2.37 networks may be left out ("auto").
    body = _body(api)
    del body["server"]["networks"]
    resp = _nova(api, "POST", "/servers", "2.1", json=body)
    assert resp.status_code == 202, resp.text


def test_multi_create_names_and_reservation_id(api: Api) -> None:
    resp = _create(api, name="many", min_count=2, max_count=2)
    assert resp.status_code == 202, resp.text
    names = poll(
        lambda: sorted(
            s["name"] for s in _nova(api, "GET", "/servers?name=^many").json()["servers"]
        ),
        until=lambda n: len(n) == 2,
    )
    assert names == ["many-1", "many-2"]
    resp = _create(api, name="resv", min_count=2, return_reservation_id=True)
    assert resp.status_code == 202, resp.text
    assert list(resp.json()) == ["reservation_id"] and resp.json()["reservation_id"].startswith(
        "r-"
    )


@pytest.mark.parametrize(
    ("server", "version"),
    [
        ({"unknown": 1}, "2.60"),
        ({"min_count": 3, "max_count": 2}, "2.60"),
        ({"min_count": 0}, "2.60"),
        ({"networks": None}, "2.60"),
        ({"networks": "none"}, "2.36"),
        ({"networks": [{"port": "p"}]}, "2.60"),
        ({"networks": [{"uuid": MISSING}]}, "2.60"),
        ({"imageRef": MISSING}, "2.60"),
        ({"flavorRef": "no.such.flavor"}, "2.60"),
        ({"availability_zone": "nowhere"}, "2.60"),
        ({"adminPass": ""}, "2.60"),
        ({"adminPass": "line\nbreak"}, "2.60"),
        ({"user_data": "not base64!"}, "2.60"),
        ({"key_name": "no-such-key"}, "2.60"),
        ({"accessIPv4": "2001:db8::1"}, "2.60"),
        ({"description": "too early"}, "2.18"),
        ({"security_groups": [{"name": "web"}]}, "2.60"),
        ({"name": "   "}, "2.60"),
    ],
)
def test_create_refusals_are_nova_bad_requests(
    api: Api, server: dict[str, Any], version: str
) -> None:
    body = _body(api)
    body["server"].update(server)
    if server.get("networks", "") is None:
        del body["server"]["networks"]
    resp = _nova(api, "POST", "/servers", version, json=body)
    # A missing key pair too: a bad member of the request (Nova's 400), not a missing resource.
    _fault(resp, "badRequest", 400)


def test_create_over_the_metadata_limit_is_nova_quota_exceeded(api: Api) -> None:
    body = _body(api)
    body["server"]["metadata"] = {f"k{i}": "v" for i in range(11)}  # maxServerMeta is 10
    resp = _nova(api, "POST", "/servers", "2.60", json=body)
    assert "metadata items" in _fault(resp, "forbidden", 403)


@pytest.mark.parametrize("password", ["testpassword", "G2*ac8&lKFFgh~2", "x"])
def test_create_takes_any_admin_pass_as_nova_does(api: Api, password: str) -> None:
    """Nova sets no complexity rule: Tempest's generated passwords (``~#&*``) and plain ones
    pass on Nova's door, and the answer echoes the password given."""
    resp = _create(api, name="anypass", adminPass=password)
    assert resp.status_code == 202, resp.text
    assert resp.json()["server"]["adminPass"] == password


def test_create_refuses_an_unknown_top_level_member(api: Api) -> None:
    body = _body(api) | {"os:scheduler_hints": {"group": "x"}}
    _fault(_nova(api, "POST", "/servers", "2.60", json=body), "badRequest", 400)


def test_delete_an_active_server_and_a_missing_one(api: Api) -> None:
    sid = _created(api)["id"]
    _active(api, sid)
    resp = _nova(api, "DELETE", f"/servers/{sid}", "2.60")
    assert resp.status_code == 204, resp.text
    _gone(api, sid)
    _fault(_nova(api, "DELETE", f"/servers/{MISSING}"), "itemNotFound", 404)
    other = api.demo["other_project"]["servers"]["stopped"]
    _fault(_nova(api, "DELETE", f"/servers/{other}"), "itemNotFound", 404)


def test_delete_during_build_cancels_the_create_and_leaves_nothing(slow_api: Api) -> None:
    api = slow_api
    used = _instances_used(api)
    volumes = {r["id"] for r in _rows(api, "volumes")}
    sid = _created(api)["id"]
    poll(lambda: _server(api, sid), until=lambda s: s["OS-EXT-STS:task_state"] is not None)
    assert _server(api, sid)["status"] == "BUILD"
    resp = _nova(api, "DELETE", f"/servers/{sid}")
    assert resp.status_code == 204, resp.text
    _gone(api, sid)
    job = next(j for j in _rows(api, "jobs") if j["job_type"] == "createServer")
    assert job["status"] == "FAIL" and job["error_code"] == "Ecs.0099"
    assert {r["id"] for r in _rows(api, "volumes")} == volumes  # no disk left behind
    assert not [p for p in _rows(api, "ports") if p["server_id"] == sid]
    assert _instances_used(api) == used  # the quota is released


def test_delete_during_rebuild_rolls_back_then_deletes(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    before = {r["id"] for r in _rows(api, "volumes")}
    attached = {r["id"] for r in _rows(api, "volumes") if r["server_id"] == sid}
    resp = _action(api, sid, {"rebuild": {"imageRef": api.demo["images"]["cloudinit"]}})
    assert resp.status_code == 202, resp.text
    poll(lambda: _server(api, sid), until=lambda s: s["status"] == "REBUILD")
    resp = _nova(api, "DELETE", f"/servers/{sid}")
    assert resp.status_code == 204, resp.text
    _gone(api, sid)
    rebuild = next(j for j in _rows(api, "jobs") if j["job_type"] == "reinstallOS")
    assert rebuild["status"] == "FAIL" and rebuild["error_code"] == "Ecs.0099"
    delete = next(j for j in _rows(api, "jobs") if j["job_type"] == "deleteServer")
    assert delete["status"] == "SUCCESS"
    after = {r["id"]: r["server_id"] for r in _rows(api, "volumes")}
    # The rebuild's new disk was removed by the rollback, the system disk went with the server
    # and data disks stayed, detached: nothing is orphaned, nothing is new.
    assert set(after) <= before and set(after) < before | attached
    assert all(after[v] is None for v in attached if v in after)


def test_cancel_job_rolls_a_reinstall_back(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    before = {r["id"]: r["server_id"] for r in _rows(api, "volumes")}
    resp = _action(api, sid, {"rebuild": {"imageRef": api.demo["images"]["cloudinit"]}})
    assert resp.status_code == 202, resp.text
    job_id = next(j["id"] for j in _rows(api, "jobs") if j["job_type"] == "reinstallOS")
    ops = api.client.app.state.container.services.ops  # type: ignore[attr-defined]
    assert ops.submit(CancelJob(api.project, job_id)) is True
    job = api.wait(job_id)
    assert job["status"] == "FAIL" and job["error_code"] == "Ecs.0099"
    s = _settled(api, sid)
    assert s["status"] == "SHUTOFF"
    assert {r["id"]: r["server_id"] for r in _rows(api, "volumes")} == before
    assert ops.submit(CancelJob(api.project, job_id)) is False  # it has ended


def test_update_renames_and_sets_access_addresses(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    resp = _nova(
        api,
        "PUT",
        f"/servers/{sid}",
        "2.19",
        json={"server": {"name": "renamed", "accessIPv4": "198.51.100.7", "description": "d"}},
    )
    assert resp.status_code == 200, resp.text
    s = resp.json()["server"]
    assert s["name"] == "renamed" and s["accessIPv4"] == "198.51.100.7" and s["description"] == "d"
    assert api.server(sid)["name"] == "renamed"
    resp = _nova(api, "PUT", f"/servers/{sid}", "2.19", json={"server": {"accessIPv4": ""}})
    assert resp.json()["server"]["accessIPv4"] == ""
    put = _nova(api, "PUT", f"/servers/{sid}", "2.18", json={"server": {"description": "x"}})
    _fault(put, "badRequest", 400)
    _fault(
        _nova(api, "PUT", f"/servers/{sid}", json={"server": {"flavor": "x"}}), "badRequest", 400
    )
    _fault(_nova(api, "PUT", f"/servers/{sid}", json={"server": {"name": ""}}), "badRequest", 400)
    _fault(_nova(api, "PUT", f"/servers/{sid}", json={"name": "x"}), "badRequest", 400)
    put = _nova(api, "PUT", f"/servers/{MISSING}", json={"server": {"name": "x"}})
    _fault(put, "itemNotFound", 404)


def test_instance_actions_are_the_server_jobs(api: Api) -> None:
    sid = _created(api)["id"]
    _active(api, sid)
    for action, status in (("os-stop", "SHUTOFF"), ("os-start", "ACTIVE")):
        assert _action(api, sid, {action: None}).status_code == 202
        poll(lambda: _settled(api, sid)["status"], until=lambda s, want=status: s == want)
    resp = _nova(api, "GET", f"/servers/{sid}/os-instance-actions", "2.60")
    assert resp.status_code == 200, resp.text
    actions = resp.json()["instanceActions"]
    assert [a["action"] for a in actions] == ["start", "stop", "create"]
    create = actions[-1]
    assert create["instance_uuid"] == sid and create["project_id"] == api.project
    assert create["user_id"] == api.demo["user_id"] and create["message"] is None
    assert "updated_at" in create
    shown = _nova(api, "GET", f"/servers/{sid}/os-instance-actions/{create['request_id']}")
    assert shown.status_code == 200, shown.text
    action = shown.json()["instanceAction"]
    assert action["action"] == "create" and "updated_at" not in action  # 2.1
    events = action["events"]
    assert [e["event"] for e in events][:2] == ["createSystemDisk", "createDataDisks"]
    assert {e["result"] for e in events} == {"Success"}
    missing = _nova(api, "GET", f"/servers/{sid}/os-instance-actions/{MISSING}")
    _fault(missing, "itemNotFound", 404)
    _fault(_nova(api, "GET", f"/servers/{MISSING}/os-instance-actions"), "itemNotFound", 404)
    _fault(_nova(api, "GET", f"/servers/{sid}/os-instance-actions?x=1"), "badRequest", 400)


def test_block_device_mapping_of_the_image_is_the_system_disk(api: Api) -> None:
    image = api.demo["images"]["cloudinit"]
    local = {"uuid": image, "boot_index": 0, "source_type": "image", "destination_type": "local"}
    sid = _created(api, block_device_mapping_v2=[local | {"delete_on_termination": True}])["id"]
    assert _active(api, sid)["status"] == "ACTIVE"
    volume = local | {"destination_type": "volume", "volume_size": 12}
    body = _body(api, block_device_mapping_v2=[volume])
    del body["server"]["imageRef"]
    resp = _nova(api, "POST", "/servers", "2.60", json=body)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    _active(api, sid)
    system = [v for v in _rows(api, "volumes") if v["server_id"] == sid]
    assert [v["size_gb"] for v in system] == [12]
    for bad in (
        [local | {"uuid": api.demo["images"]["alt"]}],  # not the imageRef
        [local | {"source_type": "volume"}],
        [local | {"delete_on_termination": False}],
        [local, local],
    ):
        resp = _nova(api, "POST", "/servers", json=_body(api, block_device_mapping_v2=bad))
        _fault(resp, "badRequest", 400)


def test_a_delete_is_past_its_point_of_no_return(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/delete", json={"servers": [{"id": sid}]}
    )
    assert resp.status_code == 200, resp.text
    job_id = resp.json()["job_id"]
    poll(lambda: api.job(job_id)["status"], until="RUNNING".__eq__)
    ops = api.client.app.state.container.services.ops  # type: ignore[attr-defined]
    ops.submit(CancelJob(api.project, job_id))
    assert api.wait(job_id)["status"] == "SUCCESS"  # the mark was ignored
    _gone(api, sid)


def test_min_count_is_created_when_max_count_exceeds_the_quota(api: Api) -> None:
    big = {"flavorRef": "s6.2xlarge.2"}
    resp = _create(api, name="fit", min_count=1, max_count=60, **big)
    assert resp.status_code == 202, resp.text
    names = [s["name"] for s in _nova(api, "GET", "/servers?name=^fit").json()["servers"]]
    assert names == ["fit"]  # one server, named without a suffix
    resp = _create(api, name="nofit", min_count=59, max_count=60, **big)
    assert "quota" in _fault(resp, "forbidden", 403).lower()
    assert _nova(api, "GET", "/servers?name=^nofit").json()["servers"] == []


def test_a_locked_server_refuses_every_operation_until_unlocked(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    assert _action(api, sid, {"lock": None}).status_code == 202
    assert _server(api, sid, "2.9")["locked"] is True
    assert "locked" in _fault(_action(api, sid, {"os-stop": None}), "conflictingRequest", 409)
    _fault(_nova(api, "DELETE", f"/servers/{sid}"), "conflictingRequest", 409)
    ecs = api.client.post(
        f"/v1/{api.project}/cloudservers/action",
        json={"os-stop": {"servers": [{"id": sid}]}},
    )
    assert ecs.status_code == 400 and ecs.json()["error"]["code"] == "Ecs.0100", ecs.text
    renamed = _nova(api, "PUT", f"/servers/{sid}", json={"server": {"name": "still-mine"}})
    assert renamed.status_code == 200, renamed.text  # reads and renames are not operations
    _fault(_action(api, sid, {"lock": {"locked_reason": "x"}}), "badRequest", 400)
    assert _action(api, sid, {"unlock": {}}).status_code == 202
    assert _server(api, sid, "2.9")["locked"] is False
    assert _action(api, sid, {"os-stop": None}).status_code == 202
    assert _settled(api, sid)["status"] == "SHUTOFF"


def test_an_image_without_cloud_init_boots_without_a_generated_password(api: Api) -> None:
    created = _created(api, imageRef=api.demo["images"]["no_cloudinit"])
    assert "adminPass" not in created  # nothing could apply it
    assert _active(api, created["id"])["status"] == "ACTIVE"
    resp = _create(api, imageRef=api.demo["images"]["no_cloudinit"], adminPass="Nova-Pass-2026")
    _fault(resp, "badRequest", 400)  # a password asked for but impossible to apply
