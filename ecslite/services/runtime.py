"""The running system of one process: the store, the driver, the runner, the event bus, and the
``Services`` every front door is given. Built by bootstrap.build (the composition root)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.drivers.base import Driver
from ecslite.jobs.runner import JobRunner
from ecslite.services.facade import Services
from ecslite.services.housekeeping import purge_expired
from ecslite.services.monitoring import Monitoring
from ecslite.services.provision import ProvisionReport, provision
from ecslite.store.events import EVENTS_CHANNEL, EventBus
from ecslite.store.notify import start_listener
from ecslite.store.uow import UowFactory

log = logging.getLogger("ecslite")


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: UowFactory
    driver: Driver
    runner: JobRunner
    clock: Clock
    events: EventBus
    services: Services
    monitoring: Monitoring

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
                    batch=self.settings.purge_batch,
                    statement_timeout=self.settings.purge_statement_timeout,
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

    def provision(self) -> ProvisionReport:
        """Give recorded servers and volumes their host-side disks and guests (start-up)."""
        return provision(self.uow_factory, self.driver)

    def release_leases(self) -> int:
        """Free the job leases a previous run of this store left (a single-process restart)."""
        with self.uow_factory() as uow:
            freed = uow.jobs.release_all_leases()
            uow.commit()
        return freed
