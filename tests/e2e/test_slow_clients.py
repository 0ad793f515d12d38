"""Slow, silent and too many clients, with raw sockets against a real process: the server
closes a connection whose request head or body does not arrive in time, closes idle
keep-alive connections, and answers 503 with Retry-After beyond its connection cap.

The timeouts are set to 1 s here; each check waits at most a generous 15 s for the close, so
it asserts what happens (the server hangs up), not how fast.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service, poll

pytestmark = pytest.mark.process

WAIT = 15.0


def _service(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Service:
    full = {f"ECSLITE_{k.upper()}": v for k, v in env.items()}
    return Service(tmp_path_factory.mktemp("slow") / "data", env=full)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = _service(
        tmp_path_factory, http_head_timeout="1", http_body_timeout="1", http_idle_timeout="1"
    ).start()
    try:
        yield s
    finally:
        s.stop()


def _connect(svc: Service) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails the test if it never does."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open; got {got!r}") from None
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk


def _ask(svc: Service) -> bytes:
    with _connect(svc) as sock:
        sock.sendall(b"GET /v1/none/jobs/none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return _read_until_closed(sock)


def test_a_silent_connection_is_closed(svc: Service) -> None:
    with _connect(svc) as sock:
        assert _read_until_closed(sock) == b""


def test_half_a_request_head_is_closed(svc: Service) -> None:
    with _connect(svc) as sock:
        sock.sendall(b"GET /v1/p/cloudservers/detail HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b")
        assert _read_until_closed(sock) == b""


def test_a_slow_loris_head_is_closed_although_bytes_keep_coming(svc: Service) -> None:
    with _connect(svc) as sock:
        sock.sendall(b"GET /v1/p/cloudservers/detail HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + WAIT
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.2)  # pacing of the slow client, not synchronisation
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
        assert closed, "the server kept a slow-loris head open"


def test_half_a_body_is_closed(svc: Service) -> None:
    head = (
        f"POST /v3/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with _connect(svc) as sock:
        sock.sendall(head.encode() + b'{"auth": ')
        answer = _read_until_closed(sock)
    # Whatever the route managed to answer, the connection did not wait for the client.
    assert b"HTTP/1.1 5" not in answer


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(svc: Service) -> None:
    request = (f"GET /v1/none/jobs/none HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n\r\n").encode()
    with _connect(svc) as sock:
        sock.sendall(request)
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]


def test_a_complete_request_with_a_body_is_answered(svc: Service) -> None:
    body = b'{"auth": {}}'
    request = (
        f"POST /v3/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    with _connect(svc) as sock:
        sock.sendall(request)
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 400 ")
    assert "Traceback" not in svc.log()


def _connect_from(svc: Service, source: str) -> socket.socket:
    """A connection from another loopback address (all of 127/8 is local on Linux)."""
    return socket.create_connection(
        ("127.0.0.1", svc.port), timeout=WAIT, source_address=(source, 0)
    )


_PART = b"GET /v1/none/jobs/none HTTP/1.1\r\nHost: x\r\n"  # a head part-way sent


def _stream(svc: Service, stack: ExitStack, source: str = "127.0.0.1") -> None:
    """Open a signed event stream from ``source`` and keep it open with ``stack``."""
    d = svc.demo
    client = stack.enter_context(
        httpx.Client(
            base_url=svc.endpoint,
            auth=SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"]),
            transport=httpx.HTTPTransport(local_address=source),
            timeout=WAIT,
        )
    )
    response = stack.enter_context(client.stream("GET", f"/v1/{d['project_id']}/events"))
    assert response.status_code == 200


def _sending(sock: socket.socket) -> socket.socket:
    sock.sendall(_PART)
    return sock


def _finish_and_read(sock: socket.socket) -> bytes:
    sock.sendall(b"Connection: close\r\n\r\n")
    return _read_until_closed(sock)


def test_idle_connections_are_closed_first_to_make_room(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    svc = _service(tmp_path_factory, max_connections="5", http_head_timeout="60").start()
    try:
        with ExitStack() as stack:
            held = [stack.enter_context(_connect(svc)) for _ in range(5)]
            # A new client is served; the oldest silent connection made room for it.
            assert _ask(svc).startswith(b"HTTP/1.1 401 ")
            assert _read_until_closed(held[0]) == b""
    finally:
        svc.stop()


def test_connections_beyond_the_cap_get_503_when_none_is_idle(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    svc = _service(tmp_path_factory, max_connections="5", http_head_timeout="60").start()
    try:
        with ExitStack() as stack:
            # Five event streams: each is being answered, so none is idle.
            for _ in range(5):
                _stream(svc, stack)
            with _connect(svc) as extra:
                answer = _read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
            assert b"retry-after: 1" in answer.lower() and b'"APIGW.0308"' in answer
        # Once the server has seen them go, new connections are admitted again.
        assert poll(lambda: _ask(svc), until=lambda a: a.startswith(b"HTTP/1.1 401 "))
    finally:
        svc.stop()


def test_one_address_cannot_take_every_connection(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    svc = _service(
        tmp_path_factory,
        max_connections_per_source="3",
        max_heads_per_source="10",
        http_head_timeout="60",
    ).start()
    try:
        with ExitStack() as stack:
            for _ in range(3):
                _stream(svc, stack, "127.0.0.2")
            with _connect_from(svc, "127.0.0.2") as extra:
                answer = _read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
            # Another address is served meanwhile.
            assert _ask(svc).startswith(b"HTTP/1.1 401 ")
            # A silent one from the same address makes room by closing that address's oldest
            # idle connection, not another address's.
            quiet = stack.enter_context(_connect_from(svc, "127.0.0.3"))
            idle = stack.enter_context(_connect_from(svc, "127.0.0.2"))
            assert _read_until_closed(idle).startswith(b"HTTP/1.1 503 ")
            quiet.sendall(_PART)
            assert _finish_and_read(quiet).startswith(b"HTTP/1.1 401 ")
    finally:
        svc.stop()


def test_one_address_cannot_hold_many_half_sent_heads(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    svc = _service(tmp_path_factory, max_heads_per_source="2", http_head_timeout="60").start()
    try:
        with ExitStack() as stack:
            held = [
                _sending(stack.enter_context(_connect_from(svc, "127.0.0.4"))) for _ in range(2)
            ]
            with _connect_from(svc, "127.0.0.4") as extra:
                extra.sendall(_PART)
                assert _read_until_closed(extra) == b""
            assert _ask(svc).startswith(b"HTTP/1.1 401 ")
            assert _finish_and_read(held[0]).startswith(b"HTTP/1.1 401 ")
    finally:
        svc.stop()


def test_pipelined_requests_are_all_answered(svc: Service) -> None:
    one = f"GET /v1/none/jobs/none HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n\r\n"
    last = one.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
    with _connect(svc) as sock:
        sock.sendall((one + one + last).encode())
        answer = _read_until_closed(sock)
    assert answer.count(b"HTTP/1.1 401 ") == 3
