"""Composition root: the only module that knows the concrete store, driver and runner classes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ecslite.api.views import job_view, server_detail
from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.domain.host import Capacity
from ecslite.domain.placement import Weigher
from ecslite.domain.server import Server
from ecslite.drivers.base import Capabilities, Driver, GuestNetwork
from ecslite.drivers.sim import SimDriver
from ecslite.images.store import ImageStore
from ecslite.jobs.runner import JobRunner
from ecslite.services.accounts import Accounts
from ecslite.services.admin import Admin
from ecslite.services.command import ImageLimits, Ports
from ecslite.services.event_feed import EventFeed
from ecslite.services.facade import Services
from ecslite.services.hosts import HostAdmin
from ecslite.services.monitoring import Monitoring
from ecslite.services.nova_passwords import InstancePasswords
from ecslite.services.operations import Operations
from ecslite.services.placement import PlacementPolicy
from ecslite.services.queries import CatalogReads, JobReads, KeypairReads, VolumeReads
from ecslite.services.read_model import (
    NetworkOf,
    ServerReads,
    job_event_renderer,
    server_event_renderer,
)
from ecslite.services.remote_console import RemoteConsoles
from ecslite.services.runtime import Container
from ecslite.store import migrate
from ecslite.store.engine import make_engine
from ecslite.store.events import EventBus, EventRecorder
from ecslite.store.uow import UowFactory, uow_factory

log = logging.getLogger("ecslite")

__all__ = ["DRIVERS", "Container", "SchemaOutOfDate", "build", "make_driver"]


class SchemaOutOfDate(RuntimeError):
    pass


def _sim(settings: Settings, uow_factory: UowFactory | None) -> Driver:
    # The host's state file: every process of this host (and a restarted one) shares it.
    return SimDriver(
        delay=settings.sim_delay,
        state_path=settings.data_dir / "sim" / f"{settings.host_id}.sqlite",
        capacity=Capacity(settings.sim_vcpus, settings.sim_ram_mb, settings.sim_disk_gb),
    )


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
    # The driver needs the store (its KMS) and server bodies need the driver (how a guest is
    # reached): the renderer looks the driver up when it renders, after both exist.
    built: list[Driver] = []

    def network_of() -> NetworkOf | None:
        return built[0].guest_network if built else None

    # The stream's bodies are the API's own views of the one read model; the store calls them
    # inside the transaction that made the change.
    render_server = server_event_renderer(server_detail, network_of)
    render_job = job_event_renderer(job_view)
    recorder = EventRecorder(
        render_job=render_job,
        render_server=render_server,
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
        owner_prefix=f"{settings.host_id}/{settings.worker_name}/",
    )

    monitoring = Monitoring(
        engine=engine,
        uow_factory=factory,
        runner=runner,
        clock=clock,
        host_id=settings.host_id or "local",
        driver=settings.driver,
    )
    runner.observer = monitoring

    def guest_network(server_id: str) -> GuestNetwork | None:
        return driver.guest_network(server_id)

    def console_output(server: Server, lines: int | None) -> str:
        return driver.console_output(server, lines)

    server_reads = ServerReads(factory, network_of=guest_network, console_of=console_output)
    services = Services(
        ops=Operations(
            Ports(
                uow_factory=factory,
                clock=clock,
                placement=PlacementPolicy(
                    driver=settings.placement_driver or settings.driver,
                    weigher=Weigher(settings.placement_weigher),
                ),
                images=ImageStore(settings.data_dir / "images"),
                image_limits=ImageLimits(
                    max_image_bytes=settings.max_image_bytes,
                    project_image_bytes=settings.image_quota_bytes,
                ),
            ),
            wake=runner.wake,
        ),
        servers=server_reads,
        jobs=JobReads(factory),
        catalog=CatalogReads(factory),
        keypairs=KeypairReads(factory),
        volumes=VolumeReads(factory),
        events=EventFeed(factory, bus, render_server=render_server, render_job=render_job),
        admin=Admin(factory, clock),
        accounts=Accounts(factory, clock),
        consoles=RemoteConsoles(
            server_reads,
            socket_of=driver.remote_console,
            has_screen=driver.capabilities.remote_console,
            ttl=settings.console_token_ttl,
        ),
        hosts=HostAdmin(factory, clock),
        nova_passwords=InstancePasswords(returned=settings.nova_instance_password),
    )
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=factory,
        driver=driver,
        runner=runner,
        clock=clock,
        events=bus,
        services=services,
        monitoring=monitoring,
    )
