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
from dataclasses import dataclass, field

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from ecslite.api.deps import container, principal
from ecslite.api.event_views import render_job, render_server
from ecslite.domain import errors
from ecslite.domain.job import JobStatus, SubJob
from ecslite.store.events import Event, EventBus
from ecslite.store.uow import UnitOfWork, UowFactory

router = APIRouter()

PAGE = 200
# Notifications wake readers at once; this re-read only bounds the delay if one was missed.
# Each stream waits a random 0.5-1.5 times this, so idle streams opened together do not all
# read the store in the same instant (a herd that delayed every other call, issue 24).
RECHECK_SECONDS = 5.0
PING_SECONDS = 15
_TERMINAL = frozenset({JobStatus.SUCCESS.value, JobStatus.FAIL.value})


@dataclass(frozen=True)
class Filters:
    project_id: str
    job_id: str | None
    server_id: str | None


@dataclass
class Opening:
    cursor: int
    snapshot: list[Event] = field(default_factory=list)
    finished: bool = False


@router.get("/v1/{project_id}/events", include_in_schema=False)
async def stream_events(
    project_id: str,
    request: Request,
    job_id: str | None = Query(default=None, min_length=1, max_length=64),
    server_id: str | None = Query(default=None, min_length=1, max_length=64),
) -> EventSourceResponse:
    who = principal(request, project_id)
    return await event_stream(request, Filters(who.project_id, job_id, server_id))


async def event_stream(request: Request, f: Filters) -> EventSourceResponse:
    """The stream of ``f`` for an already authorised caller (this route, the web console).

    ``Last-Event-ID`` is read from the request here, so every caller resumes the same way.
    """
    c = container(request)
    last = _last_event_id(request.headers.get("last-event-id"))
    opening = await run_in_threadpool(_open, c.uow_factory, f, last)
    return EventSourceResponse(
        _stream(c.uow_factory, c.events, f, opening),
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


def _open(uow_factory: UowFactory, f: Filters, last: int | None) -> Opening:
    """Check the filters, and read the current state and the history's high-water mark."""
    with uow_factory(write=False, consistent=True) as uow:
        job = uow.jobs.get(f.job_id, f.project_id) if f.job_id is not None else None
        if f.job_id is not None and job is None:
            raise errors.EcsError(errors.JOB_NOT_FOUND, f"Job {f.job_id} does not exist.")
        server = uow.servers.get(f.server_id, f.project_id) if f.server_id is not None else None
        if f.server_id is not None and server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        if last is not None:
            # Resuming a job's stream after its terminal event: nothing more will come.
            done = (
                job is not None
                and job.status.terminal
                and uow.events.last_id_of_job(job.id) <= last
            )
            return Opening(cursor=last, finished=done)
        cursor = uow.events.last_id()
        opening = Opening(cursor=cursor, snapshot=_current_state(uow, f, cursor))
        opening.finished = job is not None and job.status.terminal
        return opening


def _current_state(uow: UnitOfWork, f: Filters, cursor: int) -> list[Event]:
    """Servers first, then jobs: the state a client builds on before the first change."""
    if f.job_id is not None:
        job = uow.jobs.get(f.job_id)
        assert job is not None
        server_ids = [f.server_id] if f.server_id else _job_servers(job.server_id, job.sub_jobs)
        job_ids = [f.job_id]
    elif f.server_id is not None:
        server_ids = [f.server_id]
        server = uow.servers.get(f.server_id)
        job_ids = [server.current_job_id] if server and server.current_job_id else []
    else:
        servers, _ = uow.servers.list(f.project_id, limit=10_000, offset=0, status=None, name=None)
        server_ids = [s.id for s in servers]
        job_ids = uow.jobs.unfinished(f.project_id)
    out: list[Event] = []
    for sid in server_ids:
        r = render_server(uow, sid)
        if r is not None:
            out.append(Event(cursor, "server", None, sid, r.payload))
    for jid in job_ids:
        r = render_job(uow, jid)
        if r is not None:
            out.append(Event(cursor, "job", jid, r.server_id, r.payload))
    return out


def _job_servers(server_id: str | None, subs: tuple[SubJob, ...]) -> list[str]:
    if server_id is not None:
        return [server_id]
    return list(dict.fromkeys(s.server_id for s in subs if s.server_id))


def _read(uow_factory: UowFactory, f: Filters, after: int) -> list[Event]:
    with uow_factory(write=False) as uow:
        return uow.events.since(
            after, project_id=f.project_id, job_id=f.job_id, server_id=f.server_id, limit=PAGE
        )


def _sse(ev: Event) -> ServerSentEvent:
    return ServerSentEvent(data=ev.payload, event=ev.kind, id=str(ev.id))


def _ends(f: Filters, ev: Event) -> bool:
    if f.job_id is None or ev.kind != "job":
        return False
    return json.loads(ev.payload).get("status") in _TERMINAL


async def _stream(
    uow_factory: UowFactory, bus: EventBus, f: Filters, opening: Opening
) -> AsyncIterator[ServerSentEvent]:
    for ev in opening.snapshot:
        yield _sse(ev)
    if opening.finished:
        return
    cursor = opening.cursor
    while True:
        seen = bus.seq  # before reading: a commit after the read changes it, so no sleep-through
        events = await run_in_threadpool(_read, uow_factory, f, cursor)
        for ev in events:
            yield _sse(ev)
            cursor = ev.id
            if _ends(f, ev):
                return
        if len(events) < PAGE:
            await bus.wait(seen, RECHECK_SECONDS * random.uniform(0.5, 1.5))
