"""The event stream's reads: its opening state and the events after a cursor.

Each event's body is rendered by the read model's renderers (services/read_model.py), the same
ones the store's recorder uses, so the opening state looks exactly like later events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ecslite.domain import errors
from ecslite.domain.job import SubJob
from ecslite.store.events import Event, EventBus, Rendered
from ecslite.store.uow import UnitOfWork, UowFactory

PAGE = 200

__all__ = ["PAGE", "Event", "EventFeed", "Opening", "StreamFilter"]

Renderer = Callable[[UnitOfWork, str], Rendered | None]


@dataclass(frozen=True)
class StreamFilter:
    project_id: str
    job_id: str | None
    server_id: str | None

    def selects(self, ev: Event) -> bool:
        """Whether ``ev`` (read by ``read_all``, so carrying its project) belongs here."""
        return (
            ev.project_id == self.project_id
            and (self.job_id is None or ev.job_id == self.job_id)
            and (self.server_id is None or ev.server_id == self.server_id)
        )


@dataclass
class Opening:
    cursor: int
    snapshot: list[Event] = field(default_factory=list)
    finished: bool = False


class EventFeed:
    def __init__(
        self,
        uow_factory: UowFactory,
        bus: EventBus,
        *,
        render_server: Renderer,
        render_job: Renderer,
    ) -> None:
        self._uow_factory = uow_factory
        self.bus = bus
        self._render_server = render_server
        self._render_job = render_job

    def open(self, f: StreamFilter, last: int | None) -> Opening:
        """Check the filters, and read the current state and the history's high-water mark."""
        with self._uow_factory(write=False, consistent=True) as uow:
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
            opening = Opening(cursor=cursor, snapshot=self._current_state(uow, f, cursor))
            opening.finished = job is not None and job.status.terminal
            return opening

    def read(self, f: StreamFilter, after: int) -> list[Event]:
        """Up to ``PAGE`` events after ``after`` that ``f`` selects."""
        with self._uow_factory(write=False) as uow:
            return uow.events.since(
                after, project_id=f.project_id, job_id=f.job_id, server_id=f.server_id, limit=PAGE
            )

    def read_all(self, after: int) -> list[Event]:
        """Up to ``PAGE`` events of every project after ``after`` (one reader for many streams)."""
        with self._uow_factory(write=False) as uow:
            return uow.events.since_all(after, limit=PAGE)

    def last_id(self) -> int:
        with self._uow_factory(write=False) as uow:
            return uow.events.last_id()

    def _current_state(self, uow: UnitOfWork, f: StreamFilter, cursor: int) -> list[Event]:
        """Servers first, then jobs: the state a client builds on before the first change."""
        if f.job_id is not None:
            job = uow.jobs.get(f.job_id)
            if job is None:
                return []
            server_ids = [f.server_id] if f.server_id else _job_servers(job.server_id, job.sub_jobs)
            job_ids = [f.job_id]
        elif f.server_id is not None:
            server_ids = [f.server_id]
            server = uow.servers.get(f.server_id)
            job_ids = [server.current_job_id] if server and server.current_job_id else []
        else:
            servers, _ = uow.servers.list(
                f.project_id, limit=10_000, offset=0, status=None, name=None
            )
            server_ids = [s.id for s in servers]
            job_ids = uow.jobs.unfinished(f.project_id)
        out: list[Event] = []
        for sid in server_ids:
            r = self._render_server(uow, sid)
            if r is not None:
                out.append(Event(cursor, "server", None, sid, r.payload))
        for jid in job_ids:
            r = self._render_job(uow, jid)
            if r is not None:
                out.append(Event(cursor, "job", jid, r.server_id, r.payload))
        return out


def _job_servers(server_id: str | None, subs: tuple[SubJob, ...]) -> list[str]:
    if server_id is not None:
        return [server_id]
    return list(dict.fromkeys(s.server_id for s in subs if s.server_id))
