"""One ``key=value`` log line per request, as plain ASGI middleware.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: no extra task and memory stream per
request, and a streamed response (the event stream) passes through untouched. The request id
(``X-Request-Id``, or a fresh one) is put in the scope's state for the error handlers and
echoed in the response.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecslite import logfmt

log = logging.getLogger("ecslite.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Only a plain token is echoed and logged; anything else gets a fresh id.
        request_id = logfmt.request_id(_header(scope, b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request method=%s path=%s status=%d duration_ms=%.1f request_id=%s",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - start) * 1000,
                request_id,
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
