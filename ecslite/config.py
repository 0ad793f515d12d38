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
    # Bind this process's job runner to one hypervisor host (scale-out with several hosts).
    host_id: str | None = None
    lease_seconds: float = 15.0
    poll_interval: float = 0.5
    log_level: str = "info"
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
    image_cache: Path = Path("/var/cache/ecslite/images")
    # Finished jobs stay queryable this long (the public cloud keeps them about a day).
    job_retention_days: float = Field(default=30.0, gt=0)
    # X-Client-Token idempotency is honoured at least this long.
    client_token_retention_hours: float = Field(default=168.0, ge=24)
    housekeeping_interval: float = 600.0
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
    # and in all; one more is answered 429. Streams take no admission slot, but every commit
    # wakes every open stream of the process to read the store (docs/reliability.md).
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
    # Failed logins allowed per client address and per user, in the `limits` notation.
    login_failures_per_source: str = "30/minute"
    login_failures_per_user: str = "10/minute"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ecslite.db').resolve()}"
