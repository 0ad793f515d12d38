"""Settings, read from arguments and ``ECSLITE_*`` environment variables; nothing happens at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECSLITE_", extra="ignore")

    data_dir: Path = Path("./ecslite-data")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    driver: str = "sim"
    sim_delay: float = 0.0
    enable_admin: bool = False
    region: str = "eu-de"
    runner_threads: int = 4
    # The hypervisor host this process's runner belongs to (docs/scale-out.md, "Hosts"):
    # it registers and heartbeats the host record and runs only that host's jobs.
    host_id: str = Field(default="local", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
    # A host is down once its heartbeat is older than this; runners beat every third of it.
    host_down_after: float = Field(default=30.0, gt=0)
    # The host's availability zone (default: the region's first, e.g. eu-de-01).
    availability_zone: str | None = None
    # Where this host's guests' forwarded ports are reached (default: qemu_ssh_host).
    host_address: str | None = None
    # What the sim driver's host offers (the qemu driver reads the machine).
    sim_vcpus: int = Field(default=64, ge=0)
    sim_ram_mb: int = Field(default=256 * 1024, ge=0)
    sim_disk_gb: int = Field(default=10_000, ge=0)
    # A scheduler's classic overcommit (16 vCPUs per core, 1.5 x RAM); disks 10 x the free
    # space, as every disk here is thin (qcow2, or none at all for the sim).
    cpu_allocation_ratio: float = Field(default=16.0, gt=0)
    ram_allocation_ratio: float = Field(default=1.5, gt=0)
    disk_allocation_ratio: float = Field(default=10.0, gt=0)
    # Placement's weigher: spread (most free RAM first) or pack (least free RAM first).
    placement_weigher: str = Field(default="spread", pattern="^(spread|pack)$")
    # The driver new servers need (placement's driver filter); default: this process's driver.
    # An API process (--no-runner) in a qemu cluster sets it to qemu.
    placement_driver: str | None = None
    # Names this runner's job leases, so a restarted worker frees its own (give each worker
    # of one host its own name).
    worker_name: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")
    lease_seconds: float = 15.0
    poll_interval: float = 0.5
    log_level: str = "info"
    # Nova's door hands out instance passwords (nova.conf [api] enable_instance_password):
    # generates one for a create with neither adminPass nor key_name and answers the password
    # a create or rebuild applied. Off: never answered, never generated (a given one is still
    # applied). docs/api.md, "Nova server create, delete and update".
    nova_instance_password: bool = True
    # qemu driver
    qemu_accel: str = "auto"  # auto (probe KVM, fall back to TCG) | kvm | tcg
    # Caps on a guest's size: each guest gets its flavor's vCPUs and RAM up to these.
    qemu_vcpus: int = Field(default=2, ge=1)
    qemu_memory_mb: int = Field(default=4096, ge=256)
    qemu_powerdown_timeout: float = 60.0
    # A booting guest that prints nothing at all for this long fails its verification early.
    qemu_silent_timeout: float = Field(default=60.0, gt=0)
    # Guests' SSH ports are forwarded to free ports on this host address (loopback by default).
    qemu_ssh_host: str = "127.0.0.1"
    cloud_init_timeout: float = 600.0  # how long a reinstall waits for cloud-init to finish
    # How long a remote console URL (its one-time token) stays valid, in seconds.
    console_token_ttl: float = Field(default=600.0, gt=0)
    image_cache: Path = Path("/var/cache/ecslite/images")
    # Finished jobs stay queryable this long (the public cloud keeps them about a day).
    job_retention_days: float = Field(default=30.0, gt=0)
    # X-Client-Token idempotency is honoured at least this long.
    client_token_retention_hours: float = Field(default=168.0, ge=24)
    housekeeping_interval: float = 600.0
    # The purge deletes expired jobs this many per transaction, and no purge statement may
    # run longer than the timeout (PostgreSQL): a backlog is worked off over several runs
    # instead of one long transaction holding locks.
    purge_batch: int = Field(default=5000, ge=1)
    purge_statement_timeout: float = Field(default=30.0, gt=0)
    # Authentication: token lifetime (IAM's default is 24 h) and the X-Sdk-Date tolerance.
    token_ttl_seconds: float = 24 * 3600
    max_clock_skew_seconds: float = 15 * 60
    max_body_bytes: int = 64 * 1024
    # Glance uploads (streamed, not bound by max_body_bytes): one image file, and all of a
    # project's uploaded images together.
    max_image_bytes: int = Field(default=10 * 1024**3, ge=1)
    image_quota_bytes: int = Field(default=50 * 1024**3, ge=0)
    # Abuse limits (docs/reliability.md). Password checks (argon2, ~64 MiB each) and RSA key
    # generation run on a few threads with a short queue; beyond that, 429 with Retry-After.
    login_workers: int = Field(default=1, ge=1)
    login_queue: int = Field(default=16, ge=0)
    keygen_workers: int = Field(default=1, ge=1)
    keygen_queue: int = Field(default=8, ge=0)
    # Connections (docs/reliability.md): a request head must arrive within http_head_timeout
    # of its first byte, a body within http_body_timeout of its head; idle keep-alive
    # connections close after http_idle_timeout (well above the 5-10 s that polling clients
    # wait between calls), or earlier, oldest first, when the open count nears
    # max_connections (0: sized from the file-descriptor limit) or max_connections_per_source.
    http_head_timeout: float = Field(default=10.0, gt=0)
    http_body_timeout: float = Field(default=30.0, gt=0)
    http_idle_timeout: int = Field(default=75, ge=1)
    max_connections: int = Field(default=0, ge=0)
    max_connections_per_source: int = Field(default=256, ge=1)
    # Connections from one address part-way through a request head (one more is closed), and
    # requests from one address part-way through their body (one more is answered 503 while
    # the oldest of them has been sending for over a second).
    max_heads_per_source: int = Field(default=32, ge=1)
    max_body_senders_per_source: int = Field(default=32, ge=1)
    # Event streams (GET /v1/{project_id}/events, the console's): open at once per project
    # and in all; one more is answered 429. Streams take no admission slot; every commit wakes
    # every open stream of the process, which then filters one shared read (docs/reliability.md).
    max_streams_per_project: int = Field(default=32, ge=1)
    max_streams: int = Field(default=1000, ge=1)
    # Requests handled at once per process, how many more may wait and for how long;
    # beyond: 429 with Retry-After.
    max_in_flight: int = Field(default=64, ge=1)
    max_queued: int = Field(default=256, ge=0)
    max_queue_wait_seconds: float = Field(default=10.0, gt=0)
    # Refuse a second use of an AK/SK signature on a mutating request within its validity
    # window (max_clock_skew_seconds); shared by every API process through the store.
    refuse_replayed_signatures: bool = True
    # ... except a repeat over the connection that carried the first use: the same client
    # sending the same request twice within X-Sdk-Date's one second. Turn off behind a proxy
    # whose upstream connections carry requests of many clients (docs/reliability.md).
    replay_ok_on_same_connection: bool = True
    # Failed logins allowed per client address and per user, in the `limits` notation.
    login_failures_per_source: str = "30/minute"
    login_failures_per_user: str = "10/minute"

    # Monitoring (docs/monitoring.md). /metrics shows counts, never tenant data: open by
    # default; with a token set it answers only `Authorization: Bearer <token>`.
    metrics_token: str | None = Field(default=None, repr=False)
    # /readyz answers 503 when the database does not answer within this.
    readiness_timeout: float = Field(default=5.0, gt=0)
    # `ecslite worker` serves /healthz, /readyz and /metrics here (port 0: any free port,
    # logged at start-up). `serve` answers them on its API port.
    monitor_host: str = "127.0.0.1"
    monitor_port: int = Field(default=0, ge=0, le=65535)

    def zone(self) -> str:
        return self.availability_zone or f"{self.region}-01"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ecslite.db').resolve()}"
