"""``ecslite serve``: run the API and the job runner in one process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import NoReturn

import uvicorn

from ecslite.api.app import create_app
from ecslite.api.connections import (
    ConnectionLimits,
    auto_max_connections,
    guarded_h11,
    raise_fd_limit,
)
from ecslite.bootstrap import DRIVERS, Container, SchemaOutOfDate, build
from ecslite.cli import logs
from ecslite.config import Settings
from ecslite.demo import ensure_demo
from ecslite.logfmt import fields
from ecslite.services.runtime import HostRefused
from ecslite.services.setup import (
    SecretBox,
    SeedDocument,
    SeedError,
    load_seed,
    secret_box,
)

log = logging.getLogger("ecslite")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the API service (and its job runner)")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="state directory (default ./ecslite-data)"
    )
    p.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the data dir)"
    )
    p.add_argument(
        "--driver",
        choices=sorted(DRIVERS),
        default=None,
        help="; ".join(f"{n}: {e.help}" for n, e in DRIVERS.items()) + " (see README)",
    )
    p.add_argument(
        "--demo", action="store_true", help="load the demo tenant and write DIR/demo.json"
    )
    p.add_argument("--sim-delay", type=float, default=None, help="seconds each sim step takes")
    p.add_argument(
        "--enable-admin", action="store_true", help="serve /_ecslite/admin (faults, reset)"
    )
    p.add_argument(
        "--seed", type=Path, action="append", default=[], help="seed file to load (repeatable)"
    )
    p.add_argument("--no-runner", action="store_true", help="serve the API only; workers run jobs")
    p.add_argument(
        "--nova-instance-password",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Nova's door generates and answers instance passwords, as nova.conf's [api] "
        "enable_instance_password (default on; docs/api.md)",
    )
    add_host_arguments(p)
    p.add_argument(
        "--stop-guests-on-exit",
        action="store_true",
        help="drivers whose guests outlive the service (qemu): power off every guest of the "
        "data dir when the service stops "
        "(by default guests keep running, as a cloud's servers do)",
    )
    p.set_defaults(func=run)


def add_host_arguments(p: argparse.ArgumentParser) -> None:
    """The flags naming the host a runner belongs to (docs/scale-out.md, "Hosts")."""
    p.add_argument(
        "--host-id", default=None, help="the host this runner belongs to (default: local)"
    )
    p.add_argument("--availability-zone", default=None, help="the host's zone (default REGION-01)")
    p.add_argument(
        "--worker-name",
        default=None,
        help="this worker's name on its host (default main): a restart frees its own leases",
    )
    p.add_argument("--sim-vcpus", type=int, default=None, help="sim host capacity: vCPUs")
    p.add_argument("--sim-ram-mb", type=int, default=None, help="sim host capacity: RAM (MB)")
    p.add_argument("--sim-disk-gb", type=int, default=None, help="sim host capacity: disk (GB)")


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in {
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "data_dir": getattr(args, "data_dir", None),
            "database_url": getattr(args, "database_url", None),
            "driver": getattr(args, "driver", None),
            "sim_delay": getattr(args, "sim_delay", None),
            "runner_threads": getattr(args, "threads", None),
            "host_id": getattr(args, "host_id", None),
            "monitor_host": getattr(args, "monitor_host", None),
            "monitor_port": getattr(args, "monitor_port", None),
            "availability_zone": getattr(args, "availability_zone", None),
            "worker_name": getattr(args, "worker_name", None),
            "sim_vcpus": getattr(args, "sim_vcpus", None),
            "sim_ram_mb": getattr(args, "sim_ram_mb", None),
            "sim_disk_gb": getattr(args, "sim_disk_gb", None),
            "nova_instance_password": getattr(args, "nova_instance_password", None),
        }.items()
        if v is not None
    }
    if getattr(args, "enable_admin", False):
        overrides["enable_admin"] = True
    return Settings(**overrides)


def build_from(args: argparse.Namespace) -> tuple[Settings, Container] | None:
    """Configure logging and build the object graph; None (logged) on an out-of-date schema."""
    settings = settings_from(args)
    logs.configure(settings.log_level)
    try:
        return settings, build(settings)
    except SchemaOutOfDate as exc:
        log.error("%s", exc)
        return None


def run(args: argparse.Namespace) -> int:
    built = build_from(args)
    if built is None:
        return 2
    settings, container = built
    box = secret_box(settings.data_dir)
    endpoint = f"http://{settings.host}:{settings.port}"
    try:
        info, seeds = _load_seeds(args, settings, container, box, endpoint)
    except SeedError as exc:
        container.close()
        print(f"ecslite serve: seed refused: {exc}", file=sys.stderr, flush=True)
        return 2
    capabilities = container.driver.capabilities
    if info is not None and capabilities.image_files:
        from ecslite.services.host import BuildError

        try:
            _demo_image(settings, info)
        except BuildError as exc:
            container.close()
            print(f"ecslite serve --demo: cannot prepare the guest image: {exc}", flush=True)
            return 1
    if capabilities.host_local:
        report = container.provision()
        log.info(
            "provision disks=%d started=%d problems=%d",
            report.disks,
            report.started,
            len(report.problems),
        )
    if container.engine.dialect.name == "sqlite":
        # One process owns an SQLite store, so leases left by a previous (killed) process are
        # stale: free them now rather than waiting for them to expire.
        freed = container.release_leases()
        if freed:
            log.info("recovery resumed_jobs=%d", freed)
    from ecslite.console import CONSOLE

    app = create_app(
        container,
        secret_box=box,
        enable_admin=settings.enable_admin,
        reset_seeds=seeds,
        mounts=[CONSOLE],
    )
    stop_guests = (
        getattr(args, "stop_guests_on_exit", False) and capabilities.guests_outlive_service
    )
    if stop_guests:
        # uvicorn re-raises the SIGTERM it caught once it has shut down: with the default
        # handler that would end the process before the guests are stopped below.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    container.start_event_listener()
    if not args.no_runner:
        try:
            container.start_runner()
        except HostRefused as exc:
            container.close()
            print(f"ecslite serve: {exc}", file=sys.stderr, flush=True)
            return 2
    _banner(endpoint, settings, info, guests_outlive_service=capabilities.guests_outlive_service)
    fd_limit = raise_fd_limit()
    max_connections = settings.max_connections or auto_max_connections(fd_limit)
    log.info("connections max=%d fd_limit=%d", max_connections, fd_limit)
    try:
        uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                h11_max_incomplete_event_size=64 * 1024,
                http=guarded_h11(
                    ConnectionLimits(
                        head_timeout=settings.http_head_timeout,
                        body_timeout=settings.http_body_timeout,
                        max_connections=max_connections,
                        max_per_source=settings.max_connections_per_source,
                        max_heads_per_source=settings.max_heads_per_source,
                    ),
                    track_signatures=settings.replay_ok_on_same_connection,
                ),
                timeout_keep_alive=settings.http_idle_timeout,
            )
        ).run()
    finally:
        container.close()
        if stop_guests:
            stopped = container.driver.stop_all_guests(timeout=settings.qemu_powerdown_timeout)
            log.info("guests stopped on exit count=%d", len(stopped))
    return 0


def _exit_on_signal(signum: int, _frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


def _demo_image(settings: Settings, info: dict[str, object]) -> None:
    """Give the demo's images real files: the cached Debian 12 build (built now if absent)."""
    from ecslite.services.host import DEFAULT_MIRROR, add_image_files, build_debian_image

    built = build_debian_image(
        settings.image_cache,
        mirror=DEFAULT_MIRROR,
        progress=lambda m: log.info("image build %s", m),
    )
    images = info["images"]
    assert isinstance(images, dict)
    for image_id in images.values():
        add_image_files(
            settings.data_dir,
            image_id,
            name="Debian 12",
            disk=built / "disk.qcow2",
            kernel=built / "vmlinuz",
            initrd=built / "initrd.img",
            cloud_init=True,
            cmdline=None,
        )


def _load_seeds(
    args: argparse.Namespace,
    settings: Settings,
    container: Container,
    box: SecretBox,
    endpoint: str,
) -> tuple[dict[str, object] | None, list[SeedDocument]]:
    """Apply the demo tenant and seed files; return the demo info and the seeds to keep.

    Only the admin reset reloads seeds, so they are kept only when it is enabled: a parsed
    10,000-server seed holds about 135 MB that would otherwise stay for the process's life.
    """
    seeds: list[SeedDocument] = []
    info = None
    if args.demo:
        info, doc = ensure_demo(settings.data_dir, endpoint)
        seeds.append(doc)
    seeds.extend(load_seed(path) for path in args.seed)
    for added in container.services.accounts.apply_seeds(seeds, box=box):
        if added:
            log.info("seed loaded %s", fields(**dict(sorted(added.items()))))
    return info, seeds if settings.enable_admin else []


def _banner(
    endpoint: str,
    settings: Settings,
    info: dict[str, object] | None,
    *,
    guests_outlive_service: bool,
) -> None:
    lines = [
        f"ecslite listening on {endpoint} (driver={settings.driver}, data={settings.data_dir})"
    ]
    if info is not None:
        pid = info["project_id"]
        servers = info["servers"]
        assert isinstance(servers, dict)
        lines += [
            f"Demo tenant: {settings.data_dir / 'demo.json'} (ids, keys; private key in demo-key.pem)",
            "Every ECS call needs credentials (see docs/auth.md). Try it:",
            f"  ecslite reinstall {servers['stopped']} --data-dir {settings.data_dir} "
            f"--keyname demo-key --userid {info['user_id']} --watch   # signs with demo.json's AK/SK",
            "  # or get a token (user, domain, password and project name are in demo.json):",
            f"  curl -si -X POST {endpoint}/v3/auth/tokens -H 'Content-Type: application/json' -d "
            f'\'{{"auth":{{"identity":{{"methods":["password"],"password":{{"user":'
            f'{{"name":"{info["user_name"]}","password":"<password>","domain":'
            f'{{"name":"{info["domain_name"]}"}}}}}}}},"scope":{{"project":'
            f'{{"name":"{info["project_name"]}"}}}}}}}}\' | grep -i x-subject-token',
            f"  curl -s -H 'X-Auth-Token: <token>' {endpoint}/v1/{pid}/cloudservers/detail",
            "With the official SDK: BasicCredentials(access_key, secret_key, project_id) from demo.json.",
            f"Web console: {endpoint}/console (log in with user_name, domain_name, project_name "
            "and password from demo.json)",
            f"With the openstack CLI: OS_CLIENT_CONFIG_FILE={settings.data_dir / 'clouds.yaml'} "
            "OS_CLOUD=ecslite openstack server list",
        ]
    if guests_outlive_service:
        lines.append(
            "Guests keep running when this service stops (as a cloud's servers do); stop them with"
            f" `ecslite guests stop --data-dir {settings.data_dir}`, or serve with"
            " --stop-guests-on-exit. SSH: `ecslite ssh SERVER_ID` (port in metadata.ssh_forward)."
        )
    print("\n".join(lines), flush=True)
