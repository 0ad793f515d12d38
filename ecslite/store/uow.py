"""Unit of work: one database transaction that rolls back unless ``commit()`` is called.

The repositories note in ``changes`` which jobs and servers they changed; with an event
recorder, ``commit()`` writes those changes to the event stream in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine, func, select

from ecslite.store.catalog import CatalogRepo, ImageRepo
from ecslite.store.changes import Changes
from ecslite.store.client_tokens import ClientTokenRepo
from ecslite.store.engine import write_lock
from ecslite.store.events import EventRecorder, EventRepo
from ecslite.store.faults import FaultRepo
from ecslite.store.hosts import HostRepo
from ecslite.store.identity import IdentityRepo
from ecslite.store.jobs import JobRepo
from ecslite.store.resources import FlavorRepo, NetworkRepo, QuotaRepo
from ecslite.store.servers import ServerRepo
from ecslite.store.volumes import VolumeRepo


class UnitOfWork:
    servers: ServerRepo
    volumes: VolumeRepo
    jobs: JobRepo
    catalog: CatalogRepo
    faults: FaultRepo
    client_tokens: ClientTokenRepo
    identity: IdentityRepo
    events: EventRepo
    networks: NetworkRepo
    flavors: FlavorRepo
    images: ImageRepo
    quotas: QuotaRepo
    hosts: HostRepo
    conn: Connection

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool,
        recorder: EventRecorder[UnitOfWork] | None = None,
        consistent: bool = False,
    ) -> None:
        self._engine = engine.execution_options(ecslite_write=True) if write else engine
        if consistent and engine.dialect.name == "postgresql":
            # Several reads that must describe one moment (the stream's starting state).
            self._engine = self._engine.execution_options(isolation_level="REPEATABLE READ")
        self._lock = write_lock(engine) if write else None
        self._recorder = recorder
        self._committed = False
        self.changes = Changes()

    def __enter__(self) -> UnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.conn = self._engine.connect()
            self._tx = self.conn.begin()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self.servers = ServerRepo(self.conn, self.changes)
        self.volumes = VolumeRepo(self.conn, self.changes)
        self.jobs = JobRepo(self.conn, self.changes)
        self.catalog = CatalogRepo(self.conn)
        self.faults = FaultRepo(self.conn)
        self.client_tokens = ClientTokenRepo(self.conn)
        self.identity = IdentityRepo(self.conn)
        self.events = EventRepo(self.conn)
        self.networks = NetworkRepo(self.conn)
        self.flavors = FlavorRepo(self.conn)
        self.images = ImageRepo(self.conn)
        self.quotas = QuotaRepo(self.conn)
        self.hosts = HostRepo(self.conn)
        return self

    def limit_statements(self, seconds: float) -> None:
        """Cancel any statement of this transaction that runs longer (PostgreSQL; SQLite has
        one writer and no such setting)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                select(func.set_config("statement_timeout", f"{int(seconds * 1000)}", True))
            )

    def commit(self) -> None:
        recorded = False
        if self._recorder is not None and self.changes:
            recorded = self._recorder.record(self, self.changes)
        self._tx.commit()
        self._committed = True
        if recorded and self._recorder is not None:
            self._recorder.committed()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed and self._tx.is_active:
                self._tx.rollback()
        finally:
            try:
                self.conn.close()
            finally:
                if self._lock is not None:
                    self._lock.release()


UowFactory = Callable[..., UnitOfWork]


def uow_factory(engine: Engine, recorder: EventRecorder[UnitOfWork] | None = None) -> UowFactory:
    """Return ``make(write=True, consistent=False)`` building units of work on ``engine``."""

    def make(*, write: bool = True, consistent: bool = False) -> UnitOfWork:
        return UnitOfWork(engine, write=write, recorder=recorder, consistent=consistent)

    return make
