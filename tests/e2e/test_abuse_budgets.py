"""Budgets that match the cost, against a real process (issue 24): event streams and slow
uploads do not take the admission slots ordinary calls need.

The admission gate is made small (2 requests handled at once, none waiting) so that anything
still counted against it would turn the calls checked here into 429s.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service, poll

pytestmark = pytest.mark.process

WAIT = 30.0


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {
        "ECSLITE_MAX_IN_FLIGHT": "2",
        "ECSLITE_MAX_QUEUED": "0",
        "ECSLITE_MAX_QUEUE_WAIT_SECONDS": "1",
        "ECSLITE_HTTP_BODY_TIMEOUT": "120",
        "ECSLITE_MAX_BODY_SENDERS_PER_SOURCE": "5",
        "ECSLITE_MAX_STREAMS_PER_PROJECT": "100",  # the default is 32; 100 open here
    }
    s = Service(tmp_path_factory.mktemp("budgets") / "data", env=env).start()
    try:
        yield s
    finally:
        s.stop()


def _signed(svc: Service, who: dict[str, str], source: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=svc.endpoint,
        auth=SdkHmacAuth(who["access_key"], who["secret_key"], who["project_id"]),
        transport=httpx.AsyncHTTPTransport(
            local_address=source, limits=httpx.Limits(max_connections=200)
        ),
        timeout=WAIT,
    )


def test_event_streams_of_one_tenant_do_not_delay_another_tenant(svc: Service) -> None:
    demo = svc.demo
    other = demo["other_project"]

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            streams = await stack.enter_async_context(_signed(svc, demo, "127.0.0.6"))
            events = f"/v1/{demo['project_id']}/events"

            async def open_one() -> int:
                response = await stack.enter_async_context(streams.stream("GET", events))
                return response.status_code

            opened = await asyncio.gather(*(open_one() for _ in range(100)))
            assert opened == [200] * 100
            # The tenant's 101st stream is over its budget: 429, not a wait.
            extra = await streams.get(events)
            assert extra.status_code == 429 and int(extra.headers["Retry-After"]) >= 1
            assert extra.json()["error"]["code"] == "APIGW.0308"
            # Ordinary calls of another tenant, and of the same one, are answered.
            async with _signed(svc, other) as them:
                path = f"/v1/{other['project_id']}/cloudservers/{other['servers']['stopped']}"
                answers = [await them.get(path) for _ in range(5)]
            assert [r.status_code for r in answers] == [200] * 5
            async with _signed(svc, demo) as same:
                path = f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}"
                assert (await same.get(path)).status_code == 200

    asyncio.run(scenario())
    # Once the streams are closed the tenant opens new ones.
    with svc.http() as http, http.stream("GET", f"/v1/{demo['project_id']}/events") as r:
        assert r.status_code == 200


def _slow_upload(svc: Service, source: str) -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", svc.port), timeout=WAIT, source_address=(source, 0)
    )
    sock.sendall(
        b"POST /v1/x/cloudservers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"server": '
    )
    return sock


def _answer(sock: socket.socket) -> bytes:
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return got
        if not chunk:
            return got
        got += chunk


def test_slow_uploads_without_credentials_take_no_admission_slot(svc: Service) -> None:
    demo = svc.demo
    show = f"/v1/{demo['project_id']}/cloudservers/{demo['servers']['running']}"
    with ExitStack() as stack:
        # Slow uploads from several addresses, more than the admission gate has slots.
        for i in range(12):
            stack.enter_context(_slow_upload(svc, f"127.0.1.{i % 3 + 1}"))
        with svc.http() as http:
            answers = [http.get(show).status_code for _ in range(5)]
        assert answers == [200] * 5
        # One address may keep only a few bodies in progress: once its oldest has been
        # sending for over a second, one more from it is answered 503 without being read.
        for _ in range(5):
            stack.enter_context(_slow_upload(svc, "127.0.2.1"))

        def one_more() -> bytes:
            with _slow_upload(svc, "127.0.2.1") as sock:
                sock.settimeout(3)
                return _answer(sock)

        refused = poll(one_more, until=lambda a: a.startswith(b"HTTP/1.1 503 "), timeout=60)
        assert b"retry-after: 1" in refused.lower() and b"connection: close" in refused.lower()
        # Another address still uploads.
        with _slow_upload(svc, "127.0.2.2") as sock:
            sock.settimeout(1)
            assert _answer(sock) == b""  # still waiting for the body: not refused
