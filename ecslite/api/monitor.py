"""``/healthz``, ``/readyz`` and ``/metrics``, and the request metrics, as the outermost layer of
a process's HTTP stack.

Outermost so that a flood the admission gate refuses (429) or requests without credentials can
never make a healthy process look dead: the three paths are answered before the body reader,
the admission gate and the credential guard, and never count against them. The readiness
check and the metrics read the store on a thread of their own (at most two at once), so they
neither wait for nor take the request thread pool; a database that does not answer within
``readiness_timeout`` makes ``/readyz`` answer 503, not hang.

Requests are counted by route *template* (``/v1/{project_id}/cloudservers/{server_id}``), never
the raw path: ids in paths would make one time series per server. A request that reached no
route (refused before routing: 401, 413, 429; or a path no route serves) counts as
``unrouted``.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecslite.services.monitoring import Monitoring

HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The method is the client's string: any other counts as OTHER, so that no caller can add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Monitor:
    def __init__(
        self,
        app: ASGIApp,
        *,
        monitoring: Monitoring,
        metrics_token: str | None = None,
        readiness_timeout: float = 5.0,
    ) -> None:
        self.app = app
        self._m = monitoring
        self._token = metrics_token.encode() if metrics_token else None
        self._timeout = readiness_timeout
        self._threads = anyio.CapacityLimiter(2)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in HEALTH_PATHS:
            await self._answer(scope)(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # the app raised before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self._m.request_ended(
                method, self._template(scope), status, time.perf_counter() - start
            )

    @staticmethod
    def _template(scope: Scope) -> str:
        # The router leaves the matched route in the scope; a request refused before routing
        # (no credentials, no admission slot, body too large) has none.
        path = getattr(scope.get("route"), "path", None)
        return path if isinstance(path, str) else "unrouted"

    def _answer(self, scope: Scope) -> Any:
        if scope["method"] not in ("GET", "HEAD"):
            return JSONResponse(
                {"error": "method not allowed"}, status_code=405, headers={"Allow": "GET, HEAD"}
            )
        path = scope["path"]
        if path == "/healthz":
            return JSONResponse({"status": "alive"})
        if path == "/readyz":
            return _Deferred(self._ready)
        if self._token is not None and not self._authorized(scope):
            return JSONResponse(
                {"error": "/metrics needs the metrics token (Authorization: Bearer ...)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return _Deferred(self._metrics)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return (
                    self._token is not None
                    and scheme.lower() == b"bearer"
                    and hmac.compare_digest(token.strip(), self._token)
                )
        return False

    async def _ready(self) -> Response:
        try:
            with anyio.fail_after(self._timeout):
                readiness = await anyio.to_thread.run_sync(
                    self._m.readiness, limiter=self._threads, abandon_on_cancel=True
                )
        except TimeoutError:
            return JSONResponse(
                {
                    "status": "not ready",
                    "checks": {"database": f"No answer within {self._timeout:g} s."},
                },
                status_code=503,
            )
        body = {
            "status": "ready" if readiness.ready else "not ready",
            "checks": {c.name: c.detail for c in readiness.checks},
        }
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    async def _metrics(self) -> Response:
        text = await anyio.to_thread.run_sync(self._m.exposition, limiter=self._threads)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


class _Deferred:
    """An ASGI response built by a coroutine (one that reads the store on a thread)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._build()
        await response(scope, receive, send)


def monitor_app(monitoring: Monitoring, *, metrics_token: str | None = None) -> Monitor:
    """The whole HTTP surface of a process without the API (``ecslite worker``)."""
    # An application without routes: 404 for any other path, and the lifespan protocol.
    return Monitor(Starlette(), monitoring=monitoring, metrics_token=metrics_token)
