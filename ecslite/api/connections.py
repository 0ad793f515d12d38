"""Connection limits uvicorn does not have, kept the way a production front server keeps them.

uvicorn closes a connection idle between requests after ``timeout_keep_alive``, but a
connection that sends nothing, half a request head or half a body is kept for as long as the
client likes, and nothing bounds how many are open, in all or from one address.
``guarded_h11`` returns uvicorn's h11 protocol with these additions (docs/reliability.md):

- a request head must be complete within ``head_timeout`` seconds of its first byte (or of
  the connection's opening): a silent or slow-loris client is disconnected;
- a request body must be complete within ``body_timeout`` seconds of its head; the route
  waiting for it sees a disconnect;
- open connections are capped in all (``max_connections``, sized from the process's file
  descriptor limit by default) and per client address (``max_per_source``). A connection
  that is *idle* — opened and silent, or a keep-alive connection between requests — is the
  first to go: when the count nears the cap (within a tenth of it) or reaches it, the oldest
  idle connection is closed to make room (globally, or among the same address's for the
  per-source cap), the way nginx reuses idle keep-alive connections. Only when there is no
  idle connection to close is the new one answered 503 with ``Retry-After`` and closed;
- at most ``max_heads_per_source`` connections from one address may be part-way through
  sending a request head at once; one more is closed (slow-loris from one address).
  (Bodies in progress are bounded per address by ``asgi_body.BodyReader``, which can answer.)

Each connection also carries the signatures its requests spent (``connection_signatures``), so
that replay refusal can tell the same client repeating a request on its own connection from a
copy sent over another (``auth.authenticator.ConnectionSignatures``).

A connection handling a request (reading, answering, streaming) is never closed here; the time
a route takes is not limited here. All counts are kept on the event loop: no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
from collections import OrderedDict
from dataclasses import dataclass, field

import h11
from starlette.types import Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

from ecslite.auth.authenticator import ConnectionSignatures
from ecslite.domain import errors

log = logging.getLogger("ecslite.http")

# File descriptors kept for everything but client sockets: the store, logs, the event listener,
# guest files, the listening socket.
FD_RESERVE = 256
# The ceiling of the automatic cap: about 6 KiB of memory per idle connection (measured with
# bench/conn_memory.py, see docs/reliability.md), so 10,000 connections stay near 60 MiB.
AUTO_CAP_CEILING = 10_000


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


def auto_max_connections(fd_limit: int) -> int:
    """The connection cap for a process allowed ``fd_limit`` open files."""
    return max(64, min(fd_limit - FD_RESERVE, AUTO_CAP_CEILING))


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 512
    max_per_source: int = 256
    max_heads_per_source: int = 32


def _busy_response() -> bytes:
    exc = errors.EcsError(errors.SERVICE_BUSY, "Too many open connections.")
    body = json.dumps({"error": {"code": exc.code, "message": exc.message}}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: 1\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


# A connection's state, for the counts: idle (evictable), head (sending a request head),
# busy (a request is in: its body, the route, the answer), closing (closed by us, not yet gone).
IDLE, HEAD, BUSY, CLOSING = "idle", "head", "busy", "closing"


@dataclass
class _Source:
    live: int = 0
    heads: int = 0
    idle: OrderedDict[H11Protocol, None] = field(default_factory=OrderedDict)


@dataclass
class Registry:
    """Every live connection of one server, by state and by client address."""

    limits: ConnectionLimits
    live: int = 0
    idle: OrderedDict[H11Protocol, None] = field(default_factory=OrderedDict)
    sources: dict[str, _Source] = field(default_factory=dict)
    evicted: int = 0
    refused: int = 0

    @property
    def high_water(self) -> int:
        cap = self.limits.max_connections
        return cap - max(1, cap // 10)


# Where a request's scope carries its connection's spent signatures (in ``scope["state"]``, which
# uvicorn copies for each request from the protocol's ``app_state``: a shallow copy, so every
# request of a connection shares the one object).
_SIGNATURES = "ecslite.connection_signatures"


def connection_signatures(scope: Scope) -> ConnectionSignatures | None:
    found = scope.get("state", {}).get(_SIGNATURES)
    return found if isinstance(found, ConnectionSignatures) else None


def guarded_h11(limits: ConnectionLimits, *, track_signatures: bool = True) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``limits`` applied (pass as ``uvicorn.Config(http=...)``).

    ``track_signatures``: give each connection its ``ConnectionSignatures`` (off behind a proxy
    whose upstream connections carry requests of many clients)."""
    busy = _busy_response()
    reg = Registry(limits)

    class GuardedH11Protocol(H11Protocol):
        registry = reg
        _deadline: asyncio.TimerHandle | None = None
        _phase: str = ""
        _state: str = CLOSING
        _source: _Source | None = None
        _addr: str = "-"

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if track_signatures:
                self.app_state = {**self.app_state, _SIGNATURES: ConnectionSignatures()}
            self._addr = self.client[0] if self.client else "-"
            src = reg.sources.get(self._addr)
            if src is None:
                src = reg.sources[self._addr] = _Source()
            self._source = src
            src.live += 1
            reg.live += 1
            self._state = BUSY  # not evictable while it is being admitted
            if src.live > limits.max_per_source and not _evict_oldest(src.idle):
                self._refuse("too many open connections from one address")
                return
            # Nearing the cap, the oldest idle connection makes room; at the cap with none
            # idle, the new one is refused.
            near = reg.live > reg.high_water
            if near and not _evict_oldest(reg.idle) and reg.live > limits.max_connections:
                self._refuse("too many open connections")
                return
            self._set(IDLE)
            self._arm("head", limits.head_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._state == CLOSING:
                return
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                # Idle: uvicorn's keep-alive timer decides, or an eviction near the cap; the
                # next request's first byte starts a new head deadline.
                self._cancel()
                self._set(IDLE)
            else:  # a pipelined request is already arriving
                self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            self._set(CLOSING)
            if self._source is not None:
                self._source.live -= 1
                reg.live -= 1
                if self._source.live == 0:
                    reg.sources.pop(self._addr, None)
                self._source = None
            super().connection_lost(exc)

        def evict(self) -> None:
            """Close this idle connection to make room for another."""
            self._set(CLOSING)
            self._cancel()
            reg.evicted += 1
            if not self.transport.is_closing():
                with contextlib.suppress(h11.LocalProtocolError):
                    self.conn.send(h11.ConnectionClosed())
                self.transport.close()

        def _refuse(self, why: str) -> None:
            reg.refused += 1
            log.warning("connection refused reason=%s", why)
            self._set(CLOSING)
            self.transport.write(busy)
            self.transport.close()

        def _set(self, state: str) -> None:
            old, src = self._state, self._source
            if old == state or src is None:
                self._state = state
                return
            if old == IDLE:
                reg.idle.pop(self, None)
                src.idle.pop(self, None)
            elif old == HEAD:
                src.heads -= 1
            if state == IDLE:
                reg.idle[self] = None
                src.idle[self] = None
            elif state == HEAD:
                src.heads += 1
            self._state = state

        def _follow(self) -> None:
            if self._state == CLOSING:
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                if self._state != HEAD and self.conn.trailing_data[0]:
                    src = self._source
                    if src is not None and src.heads >= limits.max_heads_per_source:
                        log.info("connection closed reason=%s", "too many heads from one address")
                        self.evict()
                        return
                    self._set(HEAD)
                if self._phase != "head":
                    self._arm("head", limits.head_timeout)
            elif state is h11.SEND_BODY:
                self._set(BUSY)
                if self._phase != "body":
                    self._arm("body", limits.body_timeout)
            else:  # the request is in: answering it is not limited here
                self._set(BUSY)
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
                self._set(CLOSING)
                self.transport.close()

    return GuardedH11Protocol


def _evict_oldest(idle: OrderedDict[H11Protocol, None]) -> bool:
    """Close the oldest connection of ``idle``; False when there is none."""
    if not idle:
        return False
    oldest = next(iter(idle))
    oldest.evict()  # type: ignore[attr-defined]
    return True
