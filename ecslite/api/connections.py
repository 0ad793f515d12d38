"""Connection limits uvicorn does not have: request-head and body read timeouts, and a cap on
open connections per process.

uvicorn closes a connection idle between requests after ``timeout_keep_alive``, but a
connection that sends nothing, half a request head or half a body is kept for as long as the
client likes, and nothing bounds how many are open. ``guarded_h11`` returns uvicorn's h11
protocol with three additions (docs/reliability.md):

- a request head must be complete within ``head_timeout`` seconds of its first byte (or of
  the connection's opening): a silent or slow-loris client is disconnected;
- a request body must be complete within ``body_timeout`` seconds of its head; the route
  waiting for it sees a disconnect;
- a connection beyond ``max_connections`` open ones gets a 503 with ``Retry-After`` and is
  closed at once.

The time a route takes to answer is not limited here; idle time after an answer is uvicorn's
keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ecslite.domain import errors

log = logging.getLogger("ecslite.http")


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512


def _busy_response() -> bytes:
    exc = errors.EcsError(errors.SERVICE_BUSY, "Too many open connections.")
    body = json.dumps({"error": {"code": exc.code, "message": exc.message}}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: 1\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def guarded_h11(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``limits`` applied (pass as ``uvicorn.Config(http=...)``)."""
    busy = _busy_response()

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _phase: str = ""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                log.warning("connection refused reason=%s", "too many open connections")
                transport.write(busy)
                transport.close()
                return
            self._arm("head", limits.head_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                # Idle: uvicorn's keep-alive timer decides; the next request's first byte
                # starts a new head deadline.
                self._cancel()
            else:  # a pipelined request is already arriving
                self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            super().connection_lost(exc)

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.IDLE:
                if self._phase != "head":
                    self._arm("head", limits.head_timeout)
            elif state is h11.SEND_BODY:
                if self._phase != "body":
                    self._arm("body", limits.body_timeout)
            else:  # the request is in: answering it is not limited here
                self._cancel()

        def _arm(self, phase: str, seconds: float) -> None:
            self._cancel()
            self._phase = phase
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _cancel(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = None
            self._phase = ""

        def _expired(self) -> None:
            phase = self._phase
            self._deadline = None
            self._phase = ""
            if not self.transport.is_closing():
                log.info("connection closed reason=%s", f"request {phase} not received in time")
                self.transport.close()

    return GuardedH11Protocol
