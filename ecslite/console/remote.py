"""The remote console in the browser: the page a console URL opens, the WebSocket that carries
the guest's screen, and the noVNC client files.

``/console/remote/<token>`` checks the one-time token without spending it and sends the browser
to noVNC (``/console/novnc/vnc_lite.html``) with the WebSocket path as its ``path`` parameter.
``/console/remote/<token>/ws`` spends the token and relays bytes between the WebSocket and the
guest's VNC unix socket: a few lines of asyncio on the ASGI server already running, rather
than websockify, which is a separate server with its own port and token plug-ins that would
duplicate the ticket logic. noVNC comes from the host's ``novnc`` package
(``/usr/share/novnc``), served from there, never copied into this package.

These paths are under /console, which the API guard lets through: the token is the credential
(a browser's WebSocket cannot send the API's headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from pathlib import Path

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocketDisconnect

from ecslite.console.session import PREFIX
from ecslite.services.facade import Services

router = APIRouter(prefix=PREFIX, include_in_schema=False)
NOVNC_DIR = Path("/usr/share/novnc")
CHUNK = 64 * 1024
# noVNC's own pages carry inline module scripts: allowed here, on these pages only.
NOVNC_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _services(app_state: object) -> Services:
    s: Services = app_state.container.services  # type: ignore[attr-defined]
    return s


def _message(title: str, text: str, status: int) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><body><h1>{html.escape(title)}</h1>"
        f"<p id=message>{html.escape(text)}</p></body></html>"
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)


@router.get("/remote/{token}")
def remote_page(token: str, request: Request) -> Response:
    consoles = _services(request.app.state).consoles
    if consoles.peek(token) is None:
        return _message(
            "Remote console unavailable",
            "This remote console link is not valid: it was used already, it expired, or it "
            "never existed. Request a new one.",
            404,
        )
    if not consoles.has_screen:
        return _message(
            "No screen",
            "This ecslite runs the sim driver, which runs no guests: the sim driver has no "
            "screen to show. Run ecslite with the qemu driver for a remote console.",
            200,
        )
    if not (NOVNC_DIR / "vnc_lite.html").exists():
        return _missing_novnc()
    ws_path = f"{PREFIX.lstrip('/')}/remote/{token}/ws"
    # In the query (noVNC reads its parameters from there): the access log records paths only,
    # and the page sends no Referer.
    return RedirectResponse(
        f"{PREFIX}/novnc/vnc_lite.html?path={ws_path}&scale=true",
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _missing_novnc() -> HTMLResponse:
    return _message(
        "noVNC is not installed",
        "The remote console's browser client comes from the host's novnc package, which is "
        "missing: apt-get install --no-install-recommends novnc",
        503,
    )


@router.get("/novnc/{path:path}")
def novnc_file(path: str) -> Response:
    if not NOVNC_DIR.is_dir():
        return _missing_novnc()
    root = NOVNC_DIR.resolve()
    target = (NOVNC_DIR / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return _message("Not found", "No such noVNC file.", 404)
    return FileResponse(target, headers=NOVNC_HEADERS)


@router.websocket("/remote/{token}/ws")
async def remote_socket(websocket: WebSocket, token: str) -> None:
    consoles = _services(websocket.app.state).consoles
    redeemed = consoles.redeem(token)
    if redeemed is None:
        # Before accepting: the handshake is refused (HTTP 403), nothing is relayed.
        await websocket.close(code=1008)
        return
    _, sock_path = redeemed
    try:
        reader, writer = await asyncio.open_unix_connection(str(sock_path))
    except OSError:
        await websocket.close(code=1011)
        return
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol="binary" if "binary" in offered else None)

    async def to_guest() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()

    async def to_browser() -> None:
        while chunk := await reader.read(CHUNK):
            await websocket.send_bytes(chunk)

    tasks = [asyncio.create_task(to_guest()), asyncio.create_task(to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                await task
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close()
