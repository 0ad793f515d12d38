"""Console output: Nova's os-getConsoleOutput action and the ECS console-output query."""

from __future__ import annotations

from tests.conftest import Api


def test_nova_action_and_ecs_query_answer_with_output(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    resp = api.client.post(
        f"/v2.1/{api.project}/servers/{sid}/action", json={"os-getConsoleOutput": {"length": 5}}
    )
    assert resp.status_code == 200 and resp.json() == {"output": ""}  # the sim prints nothing
    resp = api.client.get(f"/v1/{api.project}/cloudservers/{sid}/console-output?length=-1")
    assert resp.status_code == 200 and resp.json() == {"output": ""}


def test_console_output_refusals(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    url = f"/v2.1/{api.project}/servers/{sid}/action"
    bad_length = api.client.post(url, json={"os-getConsoleOutput": {"length": "ten"}})
    # Nova's routes answer in Nova's envelope.
    assert bad_length.status_code == 400 and bad_length.json()["badRequest"]["code"] == 400
    other_action = api.client.post(url, json={"os-migrate": None})
    assert other_action.status_code == 400 and "badRequest" in other_action.json()
    missing = api.client.post(
        f"/v2.1/{api.project}/servers/00000000-0000-0000-0000-000000000000/action",
        json={"os-getConsoleOutput": {}},
    )
    assert missing.status_code == 404 and missing.json()["itemNotFound"]["code"] == 404
    other_project = api.demo["other_project"]["servers"]["stopped"]
    hidden = api.client.post(
        f"/v2.1/{api.project}/servers/{other_project}/action", json={"os-getConsoleOutput": {}}
    )
    assert hidden.status_code == 404
