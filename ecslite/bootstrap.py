"""Composition root: the only module that knows the concrete store, driver and runner classes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from ecslite.api.event_views import render_job, render_server
from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.drivers.base import Capabilities, Driver
from ecslite.drivers.sim import SimDriver
from ecslite.jobs.runner import JobRunner
from ecslite.services.housekeeping import purge_expired
from ecslite.store import migrate
from ecslite.store.engine import make_engine
from ecslite.store.events import EVENTS_CHANNEL, EventBus, EventRecorder, Rendered
from ecslite.store.notify import start_listener
from ecslite.store.uow import UnitOfWork, UowFactory, uow_factory

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
    events: EventBus

    _stop_listening: threading.Event | None = None
    _stop_event_listener: threading.Event | None = None

    def start_event_listener(self) -> None:
        """Wake this process's event streams on events committed by other processes."""
        if self._stop_event_listener is None:
            self._stop_event_listener = threading.Event()
            start_listener(
                self.settings.resolved_database_url(),
                self.events.publish,
                self._stop_event_listener,
                channel=EVENTS_CHANNEL,
            )

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
        if self._stop_event_listener is not None:
            self._stop_event_listener.set()
        self.runner.stop()
        self.driver.close()
        self.engine.dispose()


def _sim(settings: Settings, uow_factory: UowFactory | None) -> Driver:
    return SimDriver(delay=settings.sim_delay)


def _qemu_class() -> type[Driver]:
    from ecslite.drivers.qemu import QemuDriver

    return QemuDriver


def _qemu(settings: Settings, uow_factory: UowFactory | None) -> Driver:
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


@dataclass(frozen=True)
class DriverEntry:
    """A driver: its class (what it is: ``capabilities``) and how to build it from settings."""

    # Imports the class only when asked: a driver's own modules load only where it is used.
    load: Callable[[], type[Driver]]
    build: Callable[[Settings, UowFactory | None], Driver]
    help: str

    @property
    def capabilities(self) -> Capabilities:
        return self.load().capabilities


# The one list of drivers: `serve --driver`, `worker --driver` and `build` read it.
DRIVERS: dict[str, DriverEntry] = {
    "sim": DriverEntry(lambda: SimDriver, _sim, "no VMs (default)"),
    "qemu": DriverEntry(_qemu_class, _qemu, "real disks and QEMU guests"),
}


def make_driver(settings: Settings, uow_factory: UowFactory | None = None) -> Driver:
    entry = DRIVERS.get(settings.driver)
    if entry is None:
        raise ValueError(f"Unknown driver {settings.driver!r}; available: {', '.join(DRIVERS)}")
    return entry.build(settings, uow_factory)


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
    clock = Clock()
    bus = EventBus()
    # The stream's bodies are the API's own views; the store only calls them.
    # The driver needs the store (its KMS) and server bodies need the driver (how a guest is
    # reached): the renderer looks the driver up when it renders, after both exist.
    built: list[Driver] = []

    def render_server_body(uow: UnitOfWork, server_id: str) -> Rendered | None:
        return render_server(uow, server_id, network_of=built[0].guest_network if built else None)

    recorder = EventRecorder(
        render_job=render_job,
        render_server=render_server_body,
        now=clock.now,
        committed=bus.publish,
    )
    factory = uow_factory(engine, recorder)
    driver = make_driver(settings, factory)
    built.append(driver)

    runner = JobRunner(
        uow_factory=factory,
        driver=driver,
        clock=clock,
        threads=settings.runner_threads,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        # Injected faults are a testing tool: always on for sim, opt-in (admin) for real drivers.
        inject_faults=driver.capabilities.testing or settings.enable_admin,
        host_id=settings.host_id,
    )
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=factory,
        driver=driver,
        runner=runner,
        clock=clock,
        events=bus,
    )
