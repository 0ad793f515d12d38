"""Bounded queues: for expensive calls (a few workers, a short queue, then "busy") and for
requests as a whole (``AdmissionGate``).

A password verification (argon2, ~64 MiB and tens of ms of CPU each) or an RSA key generation
run in the shared thread pool without a bound would let 100 concurrent callers take every
thread and gigabytes of memory, and starve every other request. ``BoundedPool`` gives such a
call its own few threads and admits at most ``queue`` more callers waiting for one; any
caller beyond that gets ``Busy`` at once (the route answers 429 with ``Retry-After``) instead
of queueing without limit. The count is kept on the event loop, so it needs no lock.

With ``nice`` the pool's threads (and the threads they start: argon2 computes its lanes on
threads of its own) run at a lower CPU priority than the rest of the process, so a flood of
expensive calls takes only the CPU time the API's other requests leave unused (Linux only;
elsewhere the priority is left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from ecslite.api.envelopes import refusal
from ecslite.domain import errors

P = ParamSpec("P")
T = TypeVar("T")


class Busy(Exception):
    """The pool and its queue are full; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy, retry after {retry_after}s")
        self.retry_after = retry_after


class BoundedPool:
    def __init__(
        self, name: str, *, workers: int, queue: int, retry_after: int = 1, nice: int = 0
    ) -> None:
        self.workers = workers
        self.limit = workers + queue
        self.retry_after = retry_after
        self.pending = 0
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix=name,
            initializer=_lower_priority,
            initargs=(nice,),
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on one of the pool's threads; ``Busy`` when full."""
        if self.pending >= self.limit:
            raise Busy(self.retry_after)
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            call: Callable[[], Any] = functools.partial(fn, *args, **kwargs)
            result: T = await loop.run_in_executor(self._executor, call)
            return result
        finally:
            self.pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority(nice: int) -> None:
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    # On Linux a nice value belongs to one thread (its native id), not to the whole process.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def is_event_stream(scope: Scope) -> bool:
    """``GET /v1/{project_id}/events`` or the console's ``GET /console/api/events``."""
    if scope["method"] != "GET":
        return False
    path: str = scope["path"].rstrip("/")
    if path == CONSOLE_EVENTS:
        return True
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "v1" and parts[3] == "events" and bool(parts[2])


CONSOLE_EVENTS = "/console/api/events"


class AdmissionGate:
    """ASGI middleware: at most ``max_in_flight`` requests are handled at once and at most
    ``max_queued`` more wait for a turn, each for at most ``max_wait`` seconds; a request
    beyond the queue, or one whose wait runs out, is answered 429 with ``Retry-After`` (in the
    path's API envelope) instead of joining an unbounded queue whose wait every caller pays.

    It counts only requests being handled: the body has already been read (``BodyReader``
    sits in front), and an event stream — which lasts as long as the client likes — does not
    take a slot at all; ``StreamBudget`` bounds streams instead."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_queued: int,
        max_wait: float,
        streams: StreamBudget | None = None,
    ) -> None:
        self.app = app
        self.streams = streams
        self.max_in_flight = max_in_flight
        self.limit = max_in_flight + max_queued
        self.max_wait = max_wait
        self.admitted = 0
        self._slots = asyncio.Semaphore(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_event_stream(scope):
            if self.streams is not None and self.streams.spent(url_project(scope)):
                await refuse_stream(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self.admitted >= self.limit:
            await self._refuse(scope, receive, send)
            return
        self.admitted += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.max_wait)
            except TimeoutError:
                await self._refuse(scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                self._slots.release()
        finally:
            self.admitted -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = errors.EcsError(errors.TOO_MANY_REQUESTS, "The service is at capacity.")
        request_id = scope.get("state", {}).get("request_id")
        await refusal(scope["path"], exc, retry_after=1, request_id=request_id)(
            scope, receive, send
        )


class StreamBudget:
    """How many event streams are open, per project and in all, against their budget.

    Shared by two gates: ``AdmissionGate`` refuses a stream at once — before any
    authentication work — when the budget its URL names is already spent (a client retrying a
    refused stream every second costs a lookup, not a signature check), and ``StreamGate``
    (after authentication) counts the streams that open.
    """

    def __init__(self, *, per_project: int, total: int) -> None:
        self.per_project = per_project
        self.total = total
        self.open = 0
        self.by_project: dict[str, int] = {}

    def spent(self, project: str | None) -> bool:
        if self.open >= self.total:
            return True
        return project is not None and self.by_project.get(project, 0) >= self.per_project

    def take(self, project: str) -> None:
        self.open += 1
        self.by_project[project] = self.by_project.get(project, 0) + 1

    def give_back(self, project: str) -> None:
        self.open -= 1
        left = self.by_project[project] - 1
        if left:
            self.by_project[project] = left
        else:
            del self.by_project[project]


def url_project(scope: Scope) -> str | None:
    """The project an API stream's URL names (None for the console's stream)."""
    path: str = scope["path"].rstrip("/")
    return None if path == CONSOLE_EVENTS else path.split("/")[2]


# A stream is long-lived: a refused one is asked to come back later than an ordinary call.
STREAM_RETRY_AFTER = 10


async def refuse_stream(scope: Scope, receive: Receive, send: Send) -> None:
    exc = errors.EcsError(errors.TOO_MANY_REQUESTS, "Too many event streams are open.")
    request_id = scope.get("state", {}).get("request_id")
    await refusal(scope["path"], exc, retry_after=STREAM_RETRY_AFTER, request_id=request_id)(
        scope, receive, send
    )


class StreamGate:
    """ASGI middleware: at most ``budget.per_project`` event streams open per project and
    ``budget.total`` in all; one more stream is answered 429 with ``Retry-After`` (and the
    client's EventSource retries later). Ordinary calls never pass through a budget here.

    It runs after ``AuthGuard``: an API stream counts for the project in its URL (a caller
    that may not read it is refused by the route at once, which frees the count), a console
    stream for its session's project (resolved from the session cookie; no session, no count:
    the route answers 401).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        budget: StreamBudget,
        session_project: Callable[[Scope], Awaitable[str | None]],
    ) -> None:
        self.app = app
        self.budget = budget
        self.session_project = session_project

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_event_stream(scope):
            await self.app(scope, receive, send)
            return
        project = url_project(scope)
        if project is None:
            project = await self.session_project(scope)
        if project is None:
            await self.app(scope, receive, send)
            return
        if self.budget.spent(project):
            await refuse_stream(scope, receive, send)
            return
        self.budget.take(project)
        try:
            await self.app(scope, receive, send)
        finally:
            self.budget.give_back(project)
