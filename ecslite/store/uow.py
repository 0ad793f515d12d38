"""Unit of work: one database transaction that rolls back unless ``commit()`` is called."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine

from ecslite.store.engine import write_lock
from ecslite.store.identity import IdentityRepo
from ecslite.store.repositories import (
    CatalogRepo,
    ClientTokenRepo,
    FaultRepo,
    JobRepo,
    ServerRepo,
    VolumeRepo,
)
from ecslite.store.resources import FlavorRepo, ImageRepo, NetworkRepo, QuotaRepo


class UnitOfWork:
    servers: ServerRepo
    volumes: VolumeRepo
    jobs: JobRepo
    catalog: CatalogRepo
    faults: FaultRepo
    client_tokens: ClientTokenRepo
    identity: IdentityRepo
    networks: NetworkRepo
    flavors: FlavorRepo
    images: ImageRepo
    quotas: QuotaRepo
    conn: Connection

    def __init__(self, engine: Engine, *, write: bool) -> None:
        self._engine = engine.execution_options(ecslite_write=True) if write else engine
        self._lock = write_lock(engine) if write else None
        self._committed = False

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
        self.servers = ServerRepo(self.conn)
        self.volumes = VolumeRepo(self.conn)
        self.jobs = JobRepo(self.conn)
        self.catalog = CatalogRepo(self.conn)
        self.faults = FaultRepo(self.conn)
        self.client_tokens = ClientTokenRepo(self.conn)
        self.identity = IdentityRepo(self.conn)
        self.networks = NetworkRepo(self.conn)
        self.flavors = FlavorRepo(self.conn)
        self.images = ImageRepo(self.conn)
        self.quotas = QuotaRepo(self.conn)
        return self

    def commit(self) -> None:
        self._tx.commit()
        self._committed = True

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


def uow_factory(engine: Engine) -> UowFactory:
    """Return ``make(write=False)`` building units of work on ``engine``."""

    def make(*, write: bool = True) -> UnitOfWork:
        return UnitOfWork(engine, write=write)

    return make
