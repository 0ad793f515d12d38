"""What a load balancer and Prometheus ask of one process: is it alive, can it serve, and its
metrics.

Every API process and every worker answers for itself (docs/monitoring.md). Liveness needs
nothing but the process. Readiness asks the database for the schema revision (which also
proves it reachable) and looks at this process's runner, if it has one. The metrics are this
process's own counters (requests, jobs run here, step durations) plus a few gauges read from
the store when Prometheus scrapes (queue depth and oldest waiting job per host, guests running
on this process's host): two small indexed statements per scrape, nothing per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from ecslite import __version__
from ecslite.domain.clock import Clock
from ecslite.domain.job import JobStatus
from ecslite.domain.placement import Usage
from ecslite.domain.server import VmState
from ecslite.jobs.runner import JobRunner
from ecslite.store import migrate
from ecslite.store.uow import UowFactory

log = logging.getLogger("ecslite.monitoring")

# Seconds: API requests are milliseconds, sim jobs tens of ms, real guests minutes.
REQUEST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class Check:
    name: str  # database | schema | runner
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)


class Monitoring:
    """This process's health checks and metrics registry (one per process, built by
    bootstrap; not the library's global registry, so two apps in one test process never
    share or double-register collectors)."""

    def __init__(
        self,
        *,
        engine: Engine,
        uow_factory: UowFactory,
        runner: JobRunner,
        clock: Clock,
        host_id: str,
        driver: str,
    ) -> None:
        self._engine = engine
        self._uow = uow_factory
        self._runner = runner
        self._clock = clock
        self.host_id = host_id
        self._head = migrate.head_revision()
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        info = Gauge(
            "ecslite_info",
            "This process: its version, host and driver.",
            ["version", "host", "driver"],
            registry=self.registry,
        )
        info.labels(__version__, host_id, driver).set(1)
        self.requests = Counter(
            "ecslite_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "ecslite_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Counter(
            "ecslite_jobs",
            "Jobs this process's runner ended, by job type and outcome (SUCCESS, FAIL).",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "ecslite_job_duration_seconds",
            "Time a job ran on this process's runner (from taking it up or resuming it).",
            ["type", "outcome"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "ecslite_job_step_duration_seconds",
            "Time a job's step ran on this process's runner, by job type, step and outcome.",
            ["type", "step", "outcome"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry.register(_StoreGauges(self))
        # Scrapes of several Prometheus servers at once need not read the store at once.
        self._scrape_lock = threading.Lock()

    # -- JobObserver (jobs/observe.py) -------------------------------------------------------

    def step_ended(self, job_type: str, step: str, outcome: str, seconds: float) -> None:
        self.step_seconds.labels(job_type, step, outcome).observe(seconds)

    def job_ended(self, job_type: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(job_type, outcome).inc()
        self.job_seconds.labels(job_type, outcome).observe(seconds)

    # -- requests ------------------------------------------------------------------------------

    def request_ended(self, method: str, route: str, status: int, seconds: float) -> None:
        # On every request: the labelled children are looked up once per label set, then
        # kept (``labels()`` validates and locks on each call).
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.request_seconds.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    # -- health --------------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        """Blocking (one database round trip): call it from a thread."""
        checks: list[Check] = []
        try:
            current = migrate.current_revision(self._engine)
        except Exception as exc:  # any driver error means the same thing: not reachable
            log.warning("readiness: database unreachable error=%s", type(exc).__name__)
            checks.append(Check("database", False, "The database is not reachable."))
        else:
            checks.append(Check("database", True, "reachable"))
            if current == self._head:
                checks.append(Check("schema", True, f"at {current}"))
            else:
                checks.append(
                    Check(
                        "schema",
                        False,
                        f"The schema is at revision {current!r}, this ecslite needs "
                        f"{self._head!r}.",
                    )
                )
        checks.append(self._runner_check())
        return Readiness(tuple(checks))

    def _runner_check(self) -> Check:
        threads_ok, age = self._runner.alive()
        if age is None:
            return Check("runner", True, "no runner in this process")
        if not threads_ok:
            return Check("runner", False, "A runner thread has stopped.")
        # The heartbeat turns every lease/3: two missed turns and its leases are at risk.
        limit = 2 * self._runner.beat_interval + 1
        if age > limit:
            return Check("runner", False, f"The runner's heartbeat is {age:.0f} s old.")
        return Check("runner", True, f"heartbeat {age:.1f} s ago")

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format. Blocking: reads the store."""
        with self._scrape_lock:
            return generate_latest(self.registry)

    def _store_gauges(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "ecslite_job_queue_depth",
            "Jobs accepted and not yet taken up (INIT), by the host they are bound to "
            "(empty: any runner).",
            labels=["host"],
        )
        running = GaugeMetricFamily(
            "ecslite_jobs_in_progress",
            "Jobs taken up and not ended (RUNNING), by host.",
            labels=["host"],
        )
        oldest = GaugeMetricFamily(
            "ecslite_job_queue_oldest_age_seconds",
            "Age of the oldest job not yet taken up, by host.",
            labels=["host"],
        )
        guests = GaugeMetricFamily(
            "ecslite_guests_running",
            "Servers ACTIVE on this process's host (its guests running).",
            labels=["host"],
        )
        ready = GaugeMetricFamily("ecslite_ready", "1 when /readyz answers 200.")
        host_up = GaugeMetricFamily(
            "ecslite_host_up",
            "1 while the host's heartbeat is fresh, 0 once it is down.",
            labels=["host", "zone", "driver"],
        )
        host_enabled = GaugeMetricFamily(
            "ecslite_host_enabled", "0 for a host an operator disabled.", labels=["host"]
        )
        usable = GaugeMetricFamily(
            "ecslite_host_capacity",
            "What the host offers placement (capacity times its allocation ratio), by resource.",
            labels=["host", "resource"],
        )
        allocated = GaugeMetricFamily(
            "ecslite_host_allocated",
            "What the servers placed on the host hold, by resource (servers: their number).",
            labels=["host", "resource"],
        )
        now = self._clock.now()
        try:
            with self._uow(write=False) as uow:
                queue = uow.jobs.queue()
                active = uow.servers.count_on_host(self.host_id, VmState.ACTIVE.value)
                hosts = uow.hosts.all()
                usage = uow.hosts.usage()
        except Exception as exc:
            log.warning("metrics: store unreadable error=%s", type(exc).__name__)
            ready.add_metric([], 0)
            yield ready
            return
        for status, host, count, first in queue:
            label = [host or ""]
            if status == JobStatus.INIT.value:
                waiting.add_metric(label, count)
                oldest.add_metric(label, max(0.0, now - _epoch(first)))
            else:
                running.add_metric(label, count)
        guests.add_metric([self.host_id], active)
        for rec in hosts:
            host_up.add_metric([rec.id, rec.availability_zone, rec.driver], float(rec.up(now)))
            host_enabled.add_metric([rec.id], float(rec.enabled))
            cap, held = rec.usable, usage.get(rec.id, Usage())
            for resource in ("vcpus", "ram_mb", "disk_gb"):
                usable.add_metric([rec.id, resource], getattr(cap, resource))
                allocated.add_metric([rec.id, resource], getattr(held, resource))
            allocated.add_metric([rec.id, "servers"], held.servers)
        ready.add_metric([], 1 if self.readiness().ready else 0)
        yield from (waiting, running, oldest, guests, host_up, host_enabled, usable, allocated)
        yield ready


class _StoreGauges(Collector):
    def __init__(self, monitoring: Monitoring) -> None:
        self._m = monitoring

    def collect(self) -> Iterator[Metric]:
        return self._m._store_gauges()

    def describe(self) -> list[Metric]:
        # Described as nothing: registering must not read the store.
        return []


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
