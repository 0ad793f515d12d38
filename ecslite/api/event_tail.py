"""One reader of the event history per process, shared by every open event stream.

Every commit wakes every open stream. When each stream read the store for itself, one commit
cost a query per open stream: with 100 idle streams of one tenant, each reinstall's ten or so
commits cost a thousand queries, and other tenants' calls waited behind them (issue 24). Here
the first stream that wakes reads the new events of every project once, keeps the most recent
``KEEP`` in memory, and every stream picks its own from there (an in-memory filter). An idle
stream then costs a socket, a wake-up per commit and its keep-alive pings, not a query.

A stream whose cursor is older than what is kept (it resumed from an old ``Last-Event-ID``, or
fell behind by more than ``KEEP`` events) reads the store for itself until it catches up.
Ids are handed out in commit order (``store.events``), so reading "after the last id seen" in
one place loses nothing that per-stream reads would have found.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque

from starlette.concurrency import run_in_threadpool

from ecslite.services.event_feed import PAGE, Event, EventFeed, StreamFilter

KEEP = 4096
# Without a wake-up (a change made by a process whose notification was missed), the shared
# history is re-read at most this often, however many streams ask.
RECHECK_SECONDS = 2.0


class EventTail:
    def __init__(self, feed: EventFeed, *, keep: int = KEEP) -> None:
        self._feed = feed
        self._events: deque[Event] = deque(maxlen=keep)
        # Every event after ``_floor`` up to ``_top`` is in ``_events``; None before the first read.
        self._floor: int | None = None
        self._top = 0
        self._read_seq = -1
        self._read_at = float("-inf")
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def after(self, f: StreamFilter, cursor: int) -> tuple[list[Event], int] | None:
        """The events ``f`` selects after ``cursor`` and the cursor to continue from; None
        when ``cursor`` is older than what is kept (the caller reads the store instead)."""
        await self._refresh()
        if self._floor is None or cursor < self._floor:
            return None
        # From the newest back: a stream is usually at the tip, so this looks at new events only.
        found: list[Event] = []
        for ev in reversed(self._events):
            if ev.id <= cursor:
                break
            if f.selects(ev):
                found.append(ev)
        found.reverse()
        return found, max(cursor, self._top)

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests start several): start afresh
            self._loop, self._lock = loop, asyncio.Lock()
            self._floor, self._read_seq, self._read_at = None, -1, float("-inf")
            self._events.clear()
        assert self._lock is not None
        async with self._lock:
            seq = self._feed.bus.seq  # before reading: a commit during the read changes it
            if seq == self._read_seq and loop.time() - self._read_at < RECHECK_SECONDS:
                return
            if self._floor is None:
                self._floor = self._top = await run_in_threadpool(self._feed.last_id)
            while True:
                batch = await run_in_threadpool(self._feed.read_all, self._top)
                for ev in batch:
                    if len(self._events) == self._events.maxlen:
                        self._floor = self._events[0].id  # the oldest kept is dropped
                    self._events.append(ev)
                    self._top = ev.id
                if len(batch) < PAGE:
                    break
            self._read_seq, self._read_at = seq, loop.time()


_tails: weakref.WeakKeyDictionary[EventFeed, EventTail] = weakref.WeakKeyDictionary()


def tail_of(feed: EventFeed) -> EventTail:
    """The shared reader of ``feed`` (one per feed, that is, per process)."""
    tail = _tails.get(feed)
    if tail is None:
        tail = _tails[feed] = EventTail(feed)
    return tail
