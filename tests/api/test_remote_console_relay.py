"""The remote console's WebSocket relays bytes both ways between the browser and the guest's
VNC unix socket, once per token: a second use, a forged token and an expired one get no
WebSocket. The guest's screen is stood in for by a unix socket server that greets like a VNC
server and echoes what it receives (the sim driver has no screen of its own)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.conftest import Api

GREETING = b"RFB 003.008\n"


@pytest.fixture
def vnc_socket(tmp_path: Path) -> Iterator[Path]:
    path = Path(f"/tmp/ecslite-test-{id(tmp_path)}.vnc")
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(GREETING)
                while data := conn.recv(4096):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.close()
        path.unlink(missing_ok=True)


def _issue(api: Api, vnc: Path, monkeypatch: pytest.MonkeyPatch, **kw: float) -> str:
    consoles = api.client.app.state.container.services.consoles  # type: ignore[attr-defined]
    monkeypatch.setattr(consoles, "_socket_of", lambda server_id: vnc)
    for name, value in kw.items():
        monkeypatch.setattr(consoles, name, value)
    sid = api.demo["servers"]["running"]
    resp = api.client.post(
        f"/v1/{api.project}/cloudservers/{sid}/remote_console",
        json={"remote_console": {"type": "novnc", "protocol": "vnc"}},
    )
    assert resp.status_code == 200, resp.text
    url = str(resp.json()["remote_console"]["url"])
    return url.split("/console/remote/", 1)[1]


def test_the_token_opens_one_websocket_that_relays_both_ways(
    api: Api, vnc_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _issue(api, vnc_socket, monkeypatch)
    ws_path = f"/console/remote/{token}/ws"
    with api.client.websocket_connect(ws_path, subprotocols=["binary"]) as ws:
        assert ws.receive_bytes() == GREETING
        ws.send_bytes(b"\x01\x02key")
        assert ws.receive_bytes() == b"\x01\x02key"
    # Spent: the same URL opens nothing a second time, and its page says so.
    with pytest.raises(WebSocketDisconnect), api.client.websocket_connect(ws_path):
        pass
    page = api.client.get(f"/console/remote/{token}")
    assert page.status_code == 404 and "not valid" in page.text


def test_a_forged_token_gets_no_websocket(
    api: Api, vnc_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _issue(api, vnc_socket, monkeypatch)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with (
        pytest.raises(WebSocketDisconnect),
        api.client.websocket_connect(f"/console/remote/{forged}/ws"),
    ):
        pass


def test_an_expired_token_gets_no_websocket(
    api: Api, vnc_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token valid for no time at all: expired when used (the TTL is a setting).
    token = _issue(api, vnc_socket, monkeypatch, _ttl=0.0)
    with (
        pytest.raises(WebSocketDisconnect),
        api.client.websocket_connect(f"/console/remote/{token}/ws"),
    ):
        pass
