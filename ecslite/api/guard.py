"""ASGI middleware in front of every route: cap the body size, then authenticate.

It runs before any route code, so no route can forget it. The body is read once here (at most
``max_body`` bytes; a larger ``Content-Length`` is refused before a byte is read), hashed for the
signature check, and replayed to the app. Only the paths in ``public`` skip authentication.
Refusals use the API's error envelope; the 401 never says which check failed (the reason is
logged without any secret).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecslite.api.asgi_body import no_receive, replay
from ecslite.api.connections import connection_signatures
from ecslite.api.errors import error_for_path
from ecslite.api.streaming import is_streamed_upload
from ecslite.auth.authenticator import (
    Authenticator,
    AuthError,
    ConnectionSignatures,
    IncomingRequest,
)
from ecslite.domain import errors

log = logging.getLogger("ecslite.auth")

# No legitimate ECS request comes near this; the HTTP server admits up to 64 KiB so that
# anything between gets an answer in the API's own error format.
MAX_HEADER_BYTES = 16 * 1024


class _TooLarge(Exception):
    pass


class AuthGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        public: Callable[[str], bool],
        max_body: int,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public = public
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            await self._refuse(
                scope,
                send,
                errors.EcsError(
                    errors.HEADERS_TOO_LARGE, f"The limit is {MAX_HEADER_BYTES} bytes."
                ),
            )
            return
        headers = [(k.decode("latin-1").lower(), _text(v)) for k, v in scope["headers"]]
        if is_streamed_upload(scope):
            await self._streamed(scope, receive, send, headers)
            return
        length = next((v for k, v in headers if k == "content-length"), None)
        try:
            if length is not None and int(length) > self.max_body:
                raise _TooLarge
            body = await self._read_body(receive)
        except _TooLarge:
            await self._refuse(
                scope,
                send,
                errors.EcsError(errors.PAYLOAD_TOO_LARGE, f"The limit is {self.max_body} bytes."),
            )
            return
        except ValueError:
            await self._refuse(
                scope,
                send,
                errors.EcsError(errors.INVALID_PARAMETER, "Content-Length is not a number."),
            )
            return
        path: str = scope["path"]
        if not self.public(path):
            raw = scope.get("raw_path") or quote(path).encode("ascii")
            req = IncomingRequest(
                method=scope["method"],
                raw_path=raw.split(b"?", 1)[0].decode("latin-1"),
                query_string=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
                connection=connection_signatures(scope),
            )
            try:
                identity = await run_in_threadpool(self.authenticator.authenticate, req)
            except AuthError as exc:
                log.warning(
                    "auth refused reason=%s access_key=%s method=%s path=%s",
                    exc.reason,
                    exc.access_key or "-",
                    scope["method"],
                    path,
                )
                await self._refuse(scope, send, errors.EcsError(errors.UNAUTHORIZED))
                return
            scope.setdefault("state", {})["identity"] = identity
            if identity.spent_signature is not None:
                await self._run_spending(
                    scope, replay(body, receive), send, identity.spent_signature, req.connection
                )
                return
        await self.app(scope, replay(body, receive), send)

    async def _streamed(
        self, scope: Scope, receive: Receive, send: Send, headers: list[tuple[str, str]]
    ) -> None:
        """An image upload: authenticated by its token, its body left for the route."""
        if not any(k == "x-auth-token" for k, _ in headers):
            log.warning("auth refused reason=%s path=%s", "upload without a token", scope["path"])
            await self._refuse(scope, send, errors.EcsError(errors.UNAUTHORIZED))
            return
        req = IncomingRequest(
            method=scope["method"],
            raw_path=scope["path"],
            query_string="",
            headers=[(k, v) for k, v in headers if k != "authorization"],
            body=b"",
        )
        try:
            identity = await run_in_threadpool(self.authenticator.authenticate, req)
        except AuthError as exc:
            log.warning("auth refused reason=%s path=%s", exc.reason, scope["path"])
            await self._refuse(scope, send, errors.EcsError(errors.UNAUTHORIZED))
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)

    async def _run_spending(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        sig: str,
        conn: ConnectionSignatures | None,
    ) -> None:
        """Run a request that spent a signature; release it unless the request succeeded.

        A refusal releases the signature before its answer leaves, so a client that retries as
        soon as it reads the refusal (on this connection or another) finds it released."""
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if int(message["status"]) >= 400:
                    await run_in_threadpool(self.authenticator.release, sig, conn)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not started:  # no answer (an error the server answers 500, or a disconnect)
                await run_in_threadpool(self.authenticator.release, sig, conn)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # client went away; the app sees an empty body and answers nobody
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, exc: errors.EcsError) -> None:
        request_id = scope.get("state", {}).get("request_id")
        await error_for_path(scope["path"], exc, request_id)(scope, no_receive, send)


def _text(value: bytes) -> str:
    # The SDK sends header values as UTF-8 and signs the decoded text.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")
