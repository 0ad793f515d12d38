"""Every refused create changes nothing (servers, volumes, ports counted before and after);
change-OS, delete and reboot refusals; a create that fails mid-job leaves nothing behind."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Api


def counts(api: Api) -> tuple[int, int, int]:
    engine = create_engine(api.database_url)
    try:
        with engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("servers", "volumes", "ports")
            )
    finally:
        engine.dispose()


def body(api: Api, **over: Any) -> dict[str, Any]:
    d = api.demo
    server: dict[str, Any] = {
        "name": "app",
        "imageRef": d["images"]["cloudinit"],
        "flavorRef": "s6.small.1",
        "vpcid": d["vpc_id"],
        "nics": [{"subnet_id": d["subnet_id"]}],
        "root_volume": {"volumetype": "SSD", "size": 20},
        "data_volumes": [{"volumetype": "SAS", "size": 10}],
        "key_name": d["keypair"]["name"],
    }
    server.update(over)
    return {"server": {k: v for k, v in server.items() if v is not None}}


def create(api: Api, payload: dict[str, Any], version: str = "v1") -> Any:
    return api.client.post(f"/{version}/{api.project}/cloudservers", json=payload)


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown image", {"imageRef": "nope"}, "Ecs.0031"),
    ("inactive image", {"imageRef": "@inactive"}, "Ecs.0032"),
    ("key on image without cloud-init", {"imageRef": "@no_cloudinit"}, "Ecs.0007"),
    ("unknown flavor", {"flavorRef": "m9.huge"}, "Ecs.0029"),
    ("unknown vpc", {"vpcid": "nope"}, "Ecs.0014"),
    ("unknown subnet", {"nics": [{"subnet_id": "nope"}]}, "Ecs.0038"),
    ("no nic", {"nics": []}, "Ecs.0005"),
    ("name with a space", {"name": "my app"}, "Ecs.0915"),
    ("name too long", {"name": "a" * 65}, "Ecs.0914"),
    ("suffixed name too long", {"name": "a" * 60, "count": 2}, "Ecs.0914"),
    ("empty name", {"name": ""}, "Ecs.0005"),
    ("root smaller than image", {"root_volume": {"volumetype": "SSD", "size": 5}}, "Ecs.0005"),
    ("unknown disk type", {"root_volume": {"volumetype": "FAST", "size": 20}}, "Ecs.0043"),
    ("data disk too small", {"data_volumes": [{"volumetype": "SAS", "size": 1}]}, "Ecs.0005"),
    ("data disk without size", {"data_volumes": [{"volumetype": "SAS"}]}, "Ecs.0005"),
    ("count zero", {"count": 0}, "Ecs.0005"),
    ("count over limit", {"count": 101}, "Ecs.0005"),
    ("over the vCPU quota", {"flavorRef": "s6.2xlarge.2", "count": 60}, "Ecs.0001"),
    ("unknown key pair", {"key_name": "nope"}, "Ecs.0314"),
    ("key and password", {"adminPass": "Passw0rd-x"}, "Ecs.0005"),
    ("weak password", {"key_name": None, "adminPass": "password"}, "Ecs.0011"),
    ("user_data not base64", {"user_data": "%%%"}, "Ecs.0005"),
    (
        "fixed ip asked",
        {"nics": [{"subnet_id": "@subnet", "ip_address": "192.168.0.9"}]},
        "Ecs.0005",
    ),
    ("wrong type", {"count": "2"}, "Ecs.0005"),
]


def _resolve(api: Api, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        key = value[1:]
        return api.demo["subnet_id"] if key == "subnet" else api.demo["images"][key]
    if isinstance(value, list):
        return [_resolve(api, v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(api, v) for k, v in value.items()}
    return value


def test_each_refused_create_changes_nothing(api: Api) -> None:
    before = counts(api)
    for what, over, code in REFUSALS:
        resp = create(api, body(api, **_resolve(api, over)))
        assert resp.status_code == 400, (what, resp.text)
        assert resp.json()["error"]["code"] == code, (what, resp.text)
        assert counts(api) == before, what


def test_other_projects_subnet_looks_absent_and_prepaid_is_refused(api: Api) -> None:
    before = counts(api)
    resp = create(api, body(api, vpcid=api.demo["vpc_id"]) | {"dry_run": True})
    assert resp.json()["error"]["code"] == "Ecs.0005"
    prepaid = body(api, extendparam={"chargingMode": "prePaid"})
    resp = create(api, prepaid, version="v1.1")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Ecs.0005"
    assert counts(api) == before


def test_accepted_create_reserves_then_builds(api: Api) -> None:
    user_data = base64.b64encode(b"#cloud-config\nruncmd: [true]\n").decode()
    resp = create(api, body(api, user_data=user_data, key_name=None, adminPass="Passw0rd-x"))
    assert resp.status_code == 200, resp.text
    (sid,) = resp.json()["serverIds"]
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    shown = api.server(sid)
    assert shown["OS-EXT-SRV-ATTR:user_data"] == user_data
    assert shown["key_name"] is None and "Passw0rd-x" not in str(shown)
    assert shown["network_interfaces"][0]["subnet_id"] == api.demo["subnet_id"]


@pytest.mark.parametrize("step", ["createDataDisks", "startServer", "verifyCloudInit"])
def test_create_failing_mid_job_leaves_nothing(api: Api, step: str) -> None:
    before = counts(api)
    api.inject(step, None, times=1, error_code="Ecs.0002", message="injected")
    resp = create(api, body(api))
    assert resp.status_code == 200, resp.text
    job = api.wait(resp.json()["job_id"])
    assert job["status"] == "FAIL" and job["fail_reason"] == "injected"
    (sid,) = resp.json()["serverIds"]
    assert api.client.get(f"/v1/{api.project}/cloudservers/{sid}").status_code == 404
    assert counts(api) == before


def test_changeos_refusals(api: Api) -> None:
    d = api.demo
    sid = d["servers"]["stopped"]

    def change(image: str) -> Any:
        payload = {"os-change": {"imageid": image, "adminpass": "Passw0rd-x"}}
        return api.client.post(f"/v2/{api.project}/cloudservers/{sid}/changeos", json=payload)

    for image, code in [
        ("nope", "Ecs.0031"),
        (d["images"]["inactive"], "Ecs.0032"),
        (d["images"]["no_cloudinit"], "Ecs.0007"),
    ]:
        resp = change(image)
        assert resp.json()["error"]["code"] == code, resp.text
    assert api.server(sid)["image"]["id"] == d["images"]["cloudinit"]
    resp = change(d["images"]["alt"])
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    assert api.server(sid)["image"]["id"] == d["images"]["alt"]


def test_stopped_server_cannot_be_rebooted_and_other_projects_cannot_be_deleted(api: Api) -> None:
    d = api.demo
    stopped, running = d["servers"]["stopped"], d["servers"]["running"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/action",
        json={"reboot": {"type": "SOFT", "servers": [{"id": stopped}]}},
    )
    assert resp.json()["error"]["code"] == "Ecs.0100"
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/action",
        json={"reboot": {"type": "WARM", "servers": [{"id": running}]}},
    )
    assert resp.json()["error"]["code"] == "Ecs.0005"
    other = d["other_project"]["servers"]["stopped"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/delete", json={"servers": [{"id": other}]}
    )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "Ecs.0114"


def test_server_with_a_job_running_cannot_be_deleted(slow_api: Api) -> None:
    api = slow_api
    sid = api.demo["servers"]["stopped"]
    job = api.reinstall(sid, adminpass="Passw0rd-x").json()["job_id"]
    # The reinstall owns the server from its acceptance until its last step (7 x 0.2 s).
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/delete", json={"servers": [{"id": sid}]}
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "Ecs.0100"
    assert api.wait(job)["status"] == "SUCCESS"
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/delete", json={"servers": [{"id": sid}]}
    )
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
    assert api.client.get(f"/v1/{api.project}/cloudservers/{sid}").status_code == 404
