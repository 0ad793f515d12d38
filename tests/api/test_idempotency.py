"""X-Client-Token: retries return the same job; a reused token with another body is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import Api


def _post(
    api: Api, sid: str, token: str | None, body: dict[str, object]
) -> tuple[int, dict[str, object]]:
    headers = {"X-Client-Token": token} if token else {}
    resp = api.client.post(
        f"/v2/{api.project}/cloudservers/{sid}/reinstallos", json=body, headers=headers
    )
    return resp.status_code, resp.json()


def test_same_token_same_body_returns_the_same_job(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    body = {"os-reinstall": {**api.key_login(), "mode": "withStopServer"}}
    status, first = _post(api, sid, "retry-1", body)
    assert status == 200
    # A retry while the job runs, and another after it ended, both return that job.
    assert _post(api, sid, "retry-1", body) == (200, first)
    assert api.wait(str(first["job_id"]))["status"] == "SUCCESS"
    assert _post(api, sid, "retry-1", body) == (200, first)
    # Without the token the same body is a new request (and a new job).
    status, fresh = _post(api, sid, None, body)
    assert status == 200 and fresh != first


def test_same_token_different_body_is_a_conflict(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    assert _post(api, sid, "tok-A", {"os-reinstall": api.key_login()})[0] == 200
    status, err = _post(api, sid, "tok-A", {"os-reinstall": {"adminpass": "!QAZxsw2"}})
    assert status == 409
    assert err["error"]["code"] == "Ecs.0005" and "X-Client-Token" in err["error"]["message"]  # type: ignore[index]


def test_tokens_are_scoped_to_the_path(api: Api) -> None:
    body = {"os-reinstall": {"adminpass": "!QAZxsw2", "mode": "withStopServer"}}
    assert _post(api, api.demo["servers"]["stopped"], "tok-B", body)[0] == 200
    status, _ = _post(api, api.demo["servers"]["running"], "tok-B", body)
    assert status == 409  # same token, other server: a different request


def test_concurrent_retries_with_one_token_create_one_job(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    body = {"os-reinstall": api.key_login()}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _post(api, sid, "burst", body), range(8)))
    assert {status for status, _ in results} == {200}
    assert len({str(r["job_id"]) for _, r in results}) == 1


def test_batch_action_honours_the_token(api: Api) -> None:
    sid = api.demo["servers"]["running"]
    url = f"/v1/{api.project}/cloudservers/action"
    body = {"os-stop": {"servers": [{"id": sid}]}}
    first = api.client.post(url, json=body, headers={"X-Client-Token": "stop-1"})
    again = api.client.post(url, json=body, headers={"X-Client-Token": "stop-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def test_malformed_token_is_refused(api: Api) -> None:
    status, err = _post(
        api, api.demo["servers"]["stopped"], "x" * 65, {"os-reinstall": api.key_login()}
    )
    assert status == 400 and err["error"]["code"] == "Ecs.0005"  # type: ignore[index]


def test_admin_reset_forgets_client_tokens(api: Api) -> None:
    sid = api.demo["servers"]["stopped"]
    body = {"os-reinstall": api.key_login()}
    status, first = _post(api, sid, "before-reset", body)
    assert status == 200
    api.wait(str(first["job_id"]))
    assert api.client.post("/_ecslite/admin/reset").status_code == 204
    # The job is gone with everything else; the token must not point at it any more.
    status, again = _post(api, sid, "before-reset", body)
    assert status == 200 and again != first
    assert api.job(str(again["job_id"]))["job_id"] == again["job_id"]
