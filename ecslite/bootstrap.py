"""Composition root: the only module that knows the concrete store, driver and runner classes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.drivers.base import Driver
from ecslite.drivers.sim import SimDriver
from ecslite.jobs.registry import handlers
from ecslite.jobs.runner import JobRunner
from ecslite.services.housekeeping import purge_expired
from ecslite.store import migrate
from ecslite.store.engine import make_engine
from ecslite.store.notify import start_listener
from ecslite.store.uow import UowFactory, uow_factory

log = logging.getLogger("ecslite")


class SchemaOutOfDate(RuntimeError):
    pass


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: UowFactory
    driver: Driver
    runner: JobRunner
    clock: Clock

    _stop_listening: threading.Event | None = None

    def start_runner(self) -> None:
        """Start executing jobs here; with PostgreSQL, wake up on jobs accepted elsewhere."""
        self.runner.start()
        self._stop_listening = threading.Event()
        start_listener(
            self.settings.resolved_database_url(), self.runner.wake, self._stop_listening
        )
        threading.Thread(
            target=self._housekeeping,
            args=(self._stop_listening,),
            name="ecslite-housekeeping",
            daemon=True,
        ).start()

    def _housekeeping(self, stop: threading.Event) -> None:
        while True:
            try:
                purge_expired(
                    uow_factory=self.uow_factory,
                    clock=self.clock,
                    job_retention_days=self.settings.job_retention_days,
                    token_retention_hours=self.settings.client_token_retention_hours,
                )
            except Exception:
                log.exception("housekeeping failed")
            if stop.wait(self.settings.housekeeping_interval):
                return

    def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening.set()
        self.runner.stop()
        close = getattr(self.driver, "close", None)
        if close is not None:
            close()
        self.engine.dispose()


def make_driver(settings: Settings, uow_factory: UowFactory | None = None) -> Driver:
    if settings.driver == "sim":
        return SimDriver(delay=settings.sim_delay)
    if settings.driver == "qemu":
        from ecslite.drivers.qemu import QemuDriver, QemuOptions
        from ecslite.store.kms import KeyStore
        from ecslite.store.secretbox import SecretBox

        keys = None
        if uow_factory is not None:
            keys = KeyStore(
                settings.data_dir / "kms",
                box=SecretBox.from_file(settings.data_dir / "master.key"),
                uow_factory=uow_factory,
            )
        return QemuDriver(
            settings.data_dir,
            QemuOptions(
                accel=settings.qemu_accel,
                vcpus=settings.qemu_vcpus,
                memory_mb=settings.qemu_memory_mb,
                powerdown_timeout=settings.qemu_powerdown_timeout,
                cloud_init_timeout=settings.cloud_init_timeout,
                silent_timeout=settings.qemu_silent_timeout,
                ssh_host=settings.qemu_ssh_host,
            ),
            data_keys=keys,
        )
    raise ValueError(f"Unknown driver {settings.driver!r}; available: sim, qemu")


def build(settings: Settings, *, upgrade_schema: bool | None = None) -> Container:
    """Build the object graph for ``settings``; the runner is created but not started.

    The embedded SQLite store is migrated on the spot (one process owns it). A shared database
    is migrated only by ``ecslite db upgrade``: processes refuse to start on an old schema
    rather than race each other through migrations.
    """
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    if upgrade_schema is None:
        upgrade_schema = engine.dialect.name == "sqlite"
    if upgrade_schema:
        migrate.upgrade(engine)
    elif not migrate.is_current(engine):
        current = migrate.current_revision(engine)
        engine.dispose()
        raise SchemaOutOfDate(
            f"The database schema is at revision {current!r}, this ecslite needs "
            f"{migrate.head_revision()!r}: run `ecslite db upgrade --database-url URL` first."
        )
    factory = uow_factory(engine)
    clock = Clock()
    driver = make_driver(settings, factory)

    def take_fault(step: str, server_id: str) -> tuple[str, str] | None:
        # Almost always there is no fault: look first without taking the write lock.
        with factory(write=False) as uow:
            if not uow.faults.pending():
                return None
        with factory() as uow:
            fault = uow.faults.take(step=step, server_id=server_id)
            uow.commit()
        return fault

    runner = JobRunner(
        uow_factory=factory,
        driver=driver,
        handlers=handlers(),
        clock=clock,
        threads=settings.runner_threads,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        # Injected faults are a testing tool: always on for sim, opt-in (admin) for real drivers.
        take_fault=take_fault if settings.driver == "sim" or settings.enable_admin else None,
        host_id=settings.host_id,
    )
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=factory,
        driver=driver,
        runner=runner,
        clock=clock,
    )
