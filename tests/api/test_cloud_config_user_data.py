"""A #cloud-config user_data that cloud-init would silently ignore is refused at request time."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import Api


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("user_data", "reason"),
    [
        ("#cloud-config\nruncmd: [echo hi\n", "not valid YAML"),
        ("#cloud-config\n- just\n- a list\n", "top level must be a mapping"),
        ("#cloud-config\nruncmd: echo s3cr3t-value\n", "'runcmd' must be a list"),
        ("#cloud-config\nchpasswd: [root]\n", "'chpasswd' must be a mapping"),
        ("#cloud-config\nwrite_files:\n  - content: x\n", "write_files[0] must be a mapping"),
    ],
)
def test_invalid_cloud_config_is_refused_with_ecs_0005(
    api: Api, user_data: str, reason: str
) -> None:
    sid = api.demo["servers"]["stopped"]
    resp = api.reinstall(sid, **api.key_login(), metadata={"user_data": _b64(user_data)})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "Ecs.0005" and reason in error["message"]
    assert "s3cr3t" not in error["message"]
    assert api.server(sid)["status"] == "SHUTOFF"  # nothing was started


@pytest.mark.parametrize(
    "user_data",
    [
        "#cloud-config\nruncmd:\n  - [sh, -c, 'echo ok']\nchpasswd: {expire: false}\n",
        "#cloud-config\n",
        "#!/bin/sh\nthis: is not: yaml: [\n",  # scripts are not cloud-config: not checked
    ],
)
def test_valid_user_data_is_accepted(api: Api, user_data: str) -> None:
    sid = api.demo["servers"]["stopped"]
    resp = api.reinstall(sid, **api.key_login(), metadata={"user_data": _b64(user_data)})
    assert resp.status_code == 200, resp.text
    assert api.wait(resp.json()["job_id"])["status"] == "SUCCESS"
