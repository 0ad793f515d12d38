"""Reading request bodies: before admission, bounded per client address, replayed to the app.

``BodyReader`` is the outermost gate after the access log: it reads a request's whole body
(at most ``max_body`` bytes; a larger ``Content-Length`` is refused before a byte is read)
before the request asks ``AdmissionGate`` for a slot, so a client that trickles its body holds
a socket, not a turn of the API. When ``max_per_source`` requests from one client address are
sending their body and the oldest of them has been at it for over a second (a slow sender,
not a burst of fast ones), one more from that address is answered 503 ``APIGW.0308`` with
``Retry-After`` and ``Connection: close`` without reading it. The body timeout of the
connection (``connections.py``) ends a body that never completes.

A middleware that inspects the body (signature checks, the input gate) consumes ``receive``;
the app downstream must still see the same body once, so it is replayed from memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecslite.api.envelopes import refusal
from ecslite.api.streaming import is_streamed_upload
from ecslite.domain import errors


async def no_receive() -> Message:
    """A ``receive`` for a response sent without reading the request (a refusal)."""
    return {"type": "http.disconnect"}


def replay(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that yields ``body`` once, then defers to the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# A body still arriving this long after its head comes from a slow sender, not a burst.
SLOW = 1.0


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class BodyReader:
    def __init__(self, app: ASGIApp, *, max_body: int, max_per_source: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_per_source = max_per_source
        self.sending: dict[str, OrderedDict[object, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, chunked = _framing(scope)
        if (length is None and not chunked) or is_streamed_upload(scope):
            # No body, or an image upload (its route streams it to disk under its own limits).
            # No body: nothing to wait for (an empty request message follows at once).
            await self.app(scope, receive, send)
            return
        if length is not None and length > self.max_body:
            await self._refuse(
                scope,
                send,
                errors.EcsError(errors.PAYLOAD_TOO_LARGE, f"The limit is {self.max_body} bytes."),
            )
            return
        client = scope.get("client")
        source = client[0] if client else "-"
        started = self.sending.setdefault(source, OrderedDict())
        now = time.monotonic()
        if len(started) >= self.max_per_source and now - next(iter(started.values())) > SLOW:
            await self._refuse(
                scope,
                send,
                errors.EcsError(
                    errors.SERVICE_BUSY, "Too many requests from this address are sending a body."
                ),
                close=True,
            )
            return
        key = object()
        started[key] = now
        try:
            body = await self._read(receive)
        except _TooLarge:
            await self._refuse(
                scope,
                send,
                errors.EcsError(errors.PAYLOAD_TOO_LARGE, f"The limit is {self.max_body} bytes."),
                close=True,
            )
            return
        except _Gone:
            return  # the client went away (or its body timed out): nobody to answer
        finally:
            del started[key]
            if not started:
                self.sending.pop(source, None)
        await self.app(scope, replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(
        self, scope: Scope, send: Send, exc: errors.EcsError, *, close: bool = False
    ) -> None:
        request_id = scope.get("state", {}).get("request_id")
        retry = 1 if exc.http_status in (429, 503) else None
        response = refusal(scope["path"], exc, retry_after=retry, request_id=request_id)
        if close:
            response.headers["Connection"] = "close"
        await response(scope, no_receive, send)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The request's Content-Length (None when absent or not a number) and whether chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None, False  # AuthGuard answers it
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if length == 0:
        length = None
    return length, chunked
