"""Remote console tickets: a one-time token, bound to one server of one project, that opens
a WebSocket to that server's screen for a limited time.

The token is the only credential the browser's noVNC client carries (a WebSocket cannot send
the API's headers), so it is long and random, kept here only as its SHA-256, valid for
``ttl`` seconds (``ECSLITE_CONSOLE_TOKEN_TTL``, 600) and spent by the first WebSocket that
presents it. Tickets live in the memory of the process that issued them: the screen is a unix
socket on the guest's host, served by that host's ecslite, which is also the process that
answers the console API for it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecslite.domain import errors
from ecslite.domain.server import VmState
from ecslite.services.read_model import ServerReads


@dataclass(frozen=True)
class ConsoleTicket:
    project_id: str
    server_id: str
    expires: float  # on the monotonic clock


@dataclass(frozen=True)
class ConsoleIssued:
    token: str
    # The driver gives guests a screen (qemu); without one (sim) the page says so.
    has_screen: bool


class RemoteConsoles:
    def __init__(
        self,
        reads: ServerReads,
        *,
        socket_of: Callable[[str], Path | None],
        has_screen: bool,
        ttl: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reads = reads
        self._socket_of = socket_of
        self._has_screen = has_screen
        self._ttl = ttl
        self._now = now
        self._lock = threading.Lock()
        self._tickets: dict[str, ConsoleTicket] = {}

    @property
    def has_screen(self) -> bool:
        return self._has_screen

    def issue(self, project_id: str, server_id: str) -> ConsoleIssued:
        """A new token for the project's running server (Ecs.0114 / Ecs.0100 otherwise)."""
        server = self._reads.show(project_id, server_id).server
        if server.vm_state is not VmState.ACTIVE or server.busy:
            raise errors.EcsError(
                errors.BAD_SERVER_STATE,
                f"The ECS is {server.status}; a remote console needs a running ECS.",
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._tickets[_digest(token)] = ConsoleTicket(
                project_id=project_id, server_id=server_id, expires=self._now() + self._ttl
            )
        return ConsoleIssued(token=token, has_screen=self._has_screen)

    def peek(self, token: str) -> ConsoleTicket | None:
        """The ticket ``token`` names while it is valid and unspent; it stays unspent."""
        with self._lock:
            ticket = self._tickets.get(_digest(token))
            return ticket if ticket is not None and ticket.expires > self._now() else None

    def redeem(self, token: str) -> tuple[ConsoleTicket, Path] | None:
        """Spend ``token``: its ticket and the server's screen socket, or None (unknown,
        expired, already spent, or the guest has no screen now)."""
        with self._lock:
            ticket = self._tickets.pop(_digest(token), None)
        if ticket is None or ticket.expires <= self._now():
            return None
        sock = self._socket_of(ticket.server_id)
        return (ticket, sock) if sock is not None else None

    def _forget_expired(self) -> None:
        now = self._now()
        for key in [k for k, t in self._tickets.items() if t.expires <= now]:
            del self._tickets[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
