"""GET /v1/{project_id}/events: the project's job and server changes as server-sent events.

An ecslite extension (docs/api.md). Each event's ``id`` is its row in the store's event table,
so a client that reconnects with ``Last-Event-ID`` gets every later event once, whichever API
process it reaches. Without ``Last-Event-ID`` the stream opens with the current state (all
carrying the id the history had reached, so resuming from it loses nothing). Filtered by
``job_id``, the stream ends after that job's terminal event.

Left out of /openapi.json: OpenAPI cannot describe an endless stream, and a fuzzer following
the document would hang on it.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from ecslite.api.deps import principal, services
from ecslite.api.event_tail import tail_of
from ecslite.domain import errors
from ecslite.domain.job import JobStatus
from ecslite.services.event_feed import PAGE, Event, EventFeed, Opening, StreamFilter

router = APIRouter()

# Notifications wake readers at once; this re-read only bounds the delay if one was missed.
# Each stream waits a random 0.5-1.5 times this, so idle streams opened together do not all
# wake in the same instant; the store is read once for all of them (api/event_tail.py).
RECHECK_SECONDS = 5.0
PING_SECONDS = 15
_TERMINAL = frozenset({JobStatus.SUCCESS.value, JobStatus.FAIL.value})


@router.get("/v1/{project_id}/events", include_in_schema=False)
async def stream_events(
    project_id: str,
    request: Request,
    job_id: str | None = Query(default=None, min_length=1, max_length=64),
    server_id: str | None = Query(default=None, min_length=1, max_length=64),
) -> EventSourceResponse:
    who = principal(request, project_id)
    return await event_stream(request, StreamFilter(who.project_id, job_id, server_id))


async def event_stream(request: Request, f: StreamFilter) -> EventSourceResponse:
    """The stream of ``f`` for an already authorised caller (this route, the web console).

    ``Last-Event-ID`` is read from the request here, so every caller resumes the same way.
    """
    feed = services(request).events
    last = _last_event_id(request.headers.get("last-event-id"))
    opening = await run_in_threadpool(feed.open, f, last)
    return EventSourceResponse(
        _stream(feed, f, opening),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _last_event_id(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "Last-Event-ID must be an event id from this stream."
        )
    return int(raw)


def _sse(ev: Event) -> ServerSentEvent:
    return ServerSentEvent(data=ev.payload, event=ev.kind, id=str(ev.id))


def _ends(f: StreamFilter, ev: Event) -> bool:
    if f.job_id is None or ev.kind != "job":
        return False
    return json.loads(ev.payload).get("status") in _TERMINAL


async def _stream(
    feed: EventFeed, f: StreamFilter, opening: Opening
) -> AsyncIterator[ServerSentEvent]:
    for ev in opening.snapshot:
        yield _sse(ev)
    if opening.finished:
        return
    tail = tail_of(feed)
    cursor = opening.cursor
    while True:
        seen = feed.bus.seq  # before reading: a commit after the read changes it
        shared = await tail.after(f, cursor)
        if shared is None:  # behind what the shared reader keeps: read the store directly
            events = await run_in_threadpool(feed.read, f, cursor)
            behind = len(events) == PAGE
            next_cursor = events[-1].id if events else cursor
        else:
            (events, next_cursor), behind = shared, False
        for ev in events:
            yield _sse(ev)
            if _ends(f, ev):
                return
        cursor = next_cursor
        if not behind:
            await feed.bus.wait(seen, RECHECK_SECONDS * random.uniform(0.5, 1.5))
