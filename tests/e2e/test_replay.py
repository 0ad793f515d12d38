"""Replay refusal (on by default) against real processes (SQLite, and PostgreSQL with
ECSLITE_TEST_DATABASE_URL): a captured signed mutating request sent again within its
validity window over another connection is refused 401, also by another API process sharing
the database; reads may be repeated, and so may a signed X-Client-Token retry, and the same
client sending the same request again over its own connection (an SDK creating twice within
X-Sdk-Date's second); with the setting off a replay is accepted, as on the public cloud."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service, fresh_postgres_database

pytestmark = pytest.mark.process

ON: dict[str, str] = {}  # the default


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    server = os.environ.get("ECSLITE_TEST_DATABASE_URL")
    if not server:
        yield None
        return
    with fresh_postgres_database(server) as url:
        yield url


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay") / "data"


@pytest.fixture(scope="module")
def svc(data: Path, database: str | None) -> Iterator[Service]:
    s = Service(data, database_url=database, env=ON).start()
    try:
        yield s
    finally:
        s.stop()


def _captured(svc: Service, method: str, path: str, body: object = None) -> httpx.Request:
    """A request signed once, as an eavesdropper would capture it."""
    d = svc.demo
    request = httpx.Client(base_url=svc.endpoint).build_request(method, path, json=body)
    auth = SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"])
    return next(auth.auth_flow(request))


def _stop(svc: Service) -> httpx.Request:
    d = svc.demo
    body = {"os-stop": {"servers": [{"id": d["servers"]["running"]}]}}
    return _captured(svc, "POST", f"/v1/{d['project_id']}/cloudservers/action", body)


def test_a_replayed_mutating_request_is_refused(svc: Service) -> None:
    captured = _stop(svc)
    with httpx.Client(timeout=10) as raw:
        first = raw.send(captured)
        assert first.status_code == 200, first.text
    with httpx.Client(timeout=10) as eavesdropper:  # a connection of its own
        again = eavesdropper.send(captured)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "Common.0013"
    assert 'reason="replayed signature"' in svc.log()


def test_a_read_may_be_repeated(svc: Service) -> None:
    d = svc.demo
    captured = _captured(svc, "GET", f"/v1/{d['project_id']}/cloudservers/detail")
    with httpx.Client(timeout=10) as raw:
        assert [raw.send(captured).status_code for _ in range(3)] == [200, 200, 200]


def test_another_api_process_refuses_the_replay(
    svc: Service, data: Path, database: str | None
) -> None:
    if database is None:
        pytest.skip("several API processes share a PostgreSQL store only")
    other = Service(data, database_url=database, env=ON).start()
    try:
        d = svc.demo
        body = {"os-start": {"servers": [{"id": d["servers"]["stopped"]}]}}
        captured = _captured(svc, "POST", f"/v1/{d['project_id']}/cloudservers/action", body)
        with httpx.Client(timeout=10) as raw:
            assert raw.send(captured).status_code == 200
            # Same bytes (Host header included) to the other process's port.
            captured.url = captured.url.copy_with(port=other.port)
            assert raw.send(captured).status_code == 401
    finally:
        other.stop()


def test_a_signed_client_token_retry_is_not_a_replay(svc: Service) -> None:
    d = svc.demo
    path = f"/v2/{d['project_id']}/cloudservers/{d['servers']['stopped']}/reinstallos"
    body = {
        "os-reinstall": {"keyname": "demo-key", "userid": d["user_id"], "mode": "withStopServer"}
    }
    request = httpx.Client(base_url=svc.endpoint).build_request(
        "POST", path, json=body, headers={"X-Client-Token": "retry-1"}
    )
    auth = SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"])
    captured = next(auth.auth_flow(request))
    assert "x-client-token" in captured.headers["Authorization"]
    with httpx.Client(timeout=10) as raw:
        first = raw.send(captured)
        again = raw.send(captured)
    # Whatever the server's state left by the other tests (on PostgreSQL one starts this
    # server), the repeat is answered as the first was — the same job — never 401.
    assert first.status_code != 401, first.text
    assert again.status_code == first.status_code and again.json() == first.json()


def test_with_the_setting_off_a_replay_is_accepted(tmp_path: Path) -> None:
    off = {"ECSLITE_REFUSE_REPLAYED_SIGNATURES": "false"}
    plain = Service(tmp_path / "data", env=off).start()
    try:
        d = plain.demo
        body = {"os-stop": {"servers": [{"id": d["servers"]["running"]}]}}
        captured = _captured(plain, "POST", f"/v1/{d['project_id']}/cloudservers/action", body)
        with httpx.Client(timeout=10) as raw:
            assert raw.send(captured).status_code == 200
            # Authenticated again (the server, already stopping, refuses the action itself).
            assert raw.send(captured).status_code != 401
    finally:
        plain.stop()


def test_a_refused_request_may_be_retried_but_not_replayed_once_accepted(svc: Service) -> None:
    """A refusal changes nothing, so its signature is not spent: a client retrying the same
    signed call is answered again, not told it is unauthenticated. Once a call is accepted,
    sending the same signed request again is a replay."""
    d = svc.demo
    path = f"/v2.1/{d['project_id']}/os-keypairs"
    taken = _captured(svc, "POST", path, {"keypair": {"name": d["keypair"]["name"]}})
    with httpx.Client(timeout=10) as raw:
        first = raw.send(taken)
        assert first.status_code == 409, first.text  # the name is taken
        again = raw.send(taken)
        assert again.status_code == 409, again.text  # refused again, not as a replay
        fresh = _captured(svc, "POST", path, {"keypair": {"name": "replay-probe"}})
        assert raw.send(fresh).status_code == 200
    with httpx.Client(timeout=10) as eavesdropper:
        replayed = eavesdropper.send(fresh)
    assert replayed.status_code == 401, replayed.text


def _create(svc: Service, name: str) -> httpx.Request:
    d = svc.demo
    body = {
        "server": {
            "name": name,
            "imageRef": d["images"]["cloudinit"],
            "flavorRef": "s6.small.1",
            "vpcid": d["vpc_id"],
            "nics": [{"subnet_id": d["subnet_id"]}],
            "adminPass": "Replay-Twice-1",
        }
    }
    return _captured(svc, "POST", f"/v1/{d['project_id']}/cloudservers", body)


def test_the_same_client_may_send_the_same_create_twice(svc: Service) -> None:
    """An SDK that creates two identical servers within one second signs both requests with
    the same X-Sdk-Date, hence the same signature. Over the client's own keep-alive connection
    both are accepted (two jobs, two servers), as the public cloud accepts them; the same bytes
    from any other connection are a replay."""
    captured = _create(svc, "replay-twice")
    with httpx.Client(timeout=10) as sdk:
        first = sdk.send(captured)
        second = sdk.send(captured)
        assert (first.status_code, second.status_code) == (200, 200), second.text
        assert first.json()["job_id"] != second.json()["job_id"]
        assert first.json()["serverIds"] != second.json()["serverIds"]
    with httpx.Client(timeout=10) as eavesdropper:
        third = eavesdropper.send(captured)
    assert third.status_code == 401, third.text


def test_a_refused_request_is_released_before_its_answer(svc: Service) -> None:
    """A refused request's signature is released before the refusal is sent, so a client that
    retries the moment it reads the refusal, from a new connection, is answered again, not 401."""
    d = svc.demo
    path = f"/v2.1/{d['project_id']}/os-keypairs"
    taken = _captured(svc, "POST", path, {"keypair": {"name": d["keypair"]["name"]}})
    for _ in range(5):
        with httpx.Client(timeout=10) as fresh_connection:
            assert fresh_connection.send(taken).status_code == 409
