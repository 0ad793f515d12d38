"""SQLAlchemy Core tables: the schema Alembic migrates and the repositories query."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

domains = Table(
    "domains",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
)

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain_id", String(64), ForeignKey("domains.id"), nullable=False),
    Column("password_hash", String(255)),
    UniqueConstraint("domain_id", "name"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("domain_id", String(64), ForeignKey("domains.id"), nullable=False),
    Column("region", String(64), nullable=False),
    # Overrides of the default quotas (domain/quota.py), e.g. {"instances": 5}; NULL: defaults.
    Column("quotas", JSON),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    # Encrypted with the master key (Fernet): HMAC verification needs the secret back.
    Column("secret_enc", LargeBinary, nullable=False),
    Column("created", String(32), nullable=False),
)

images = Table(
    "images",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("cloud_init", Boolean, nullable=False),
    Column("os_type", String(32), nullable=False),
    Column("min_disk_gb", Integer, nullable=False),
    Column("project_id", String(64)),  # NULL: a public image
    Column("password_agent", Boolean, nullable=False, server_default=false()),
    # Set for an image uploaded through Glance (NULL for built or seeded ones).
    Column("min_ram_mb", Integer),
    Column("size", BigInteger),
    Column("checksum", String(32)),  # MD5 hex, Glance's ``checksum``
    Column("os_hash_value", String(128)),  # SHA-512 hex
    Column("disk_format", String(16)),  # read from the file's header, never the declared one
    Column("tags", JSON),
    Column("properties", JSON),
    Column("created_at", String(32)),
    Column("updated_at", String(32)),
)

keypairs = Table(
    "keypairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("public_key", Text, nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("type", String(16), nullable=False),
    Column("created", String(32), nullable=False),
    UniqueConstraint("user_id", "name"),
)

kms_keys = Table(
    "kms_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # enabled | disabled
)

flavors = Table(
    # Flavors added by seed on top of the built-in catalogue (domain/flavor.py).
    "flavors",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("vcpus", Integer, nullable=False),
    Column("ram_mb", Integer, nullable=False),
    Column("disk_gb", Integer, nullable=False),
)

vpcs = Table(
    "vpcs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("cidr", String(64), nullable=False),
)

subnets = Table(
    "subnets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False, index=True),
    Column("vpc_id", String(64), ForeignKey("vpcs.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("cidr", String(64), nullable=False),
)

ports = Table(
    # A server's fixed IP in a subnet; unique per subnet so two creates cannot share an address.
    "ports",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("server_id", String(64), nullable=False, index=True),
    Column("subnet_id", String(64), ForeignKey("subnets.id"), nullable=False),
    Column("vpc_id", String(64), nullable=False),
    Column("ip_address", String(64), nullable=False),
    UniqueConstraint("subnet_id", "ip_address"),
)

servers = Table(
    "servers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("image_id", String(64), nullable=False),
    Column("flavor_id", String(64), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    Column("host_id", String(64), nullable=False),
    Column("vm_state", String(32), nullable=False),
    Column("task_state", String(64)),
    Column("key_name", String(255)),
    Column("fault", JSON),
    Column("metadata", JSON, nullable=False),
    Column("current_job_id", String(64)),
    # What cloud-init applies at the next boot (public key, password *hash*, user_data, ...),
    # and the payload a running reinstall will switch to. Never a plaintext secret.
    Column("boot_config", JSON),
    Column("pending_boot_config", JSON),
    Column("created", String(32), nullable=False),
    Column("updated", String(32), nullable=False),
    Column("version", Integer, nullable=False, default=0),
    # Nova's accessIPv4/accessIPv6 and description: kept and shown, never configured.
    Column("access_ipv4", String(64)),
    Column("access_ipv6", String(64)),
    Column("description", String(255)),
    # Nova's lock: every operation is refused on a locked server until it is unlocked.
    Column("locked", Boolean, nullable=False, default=False, server_default=false()),
    # Nova's server tags (2.26+): a JSON list of strings; NULL for a server never tagged.
    Column("tags", JSON),
    # Whether the server is in the one security group there is, "default" (there is no
    # Neutron; Nova's removeSecurityGroup takes it out, addSecurityGroup puts it back).
    Column("default_security_group", Boolean, nullable=False, default=True, server_default=true()),
    Index("ix_servers_project", "project_id", "created"),
)

volumes = Table(
    "volumes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("server_id", String(64), index=True),
    Column("device", String(64)),
    Column("boot_index", Integer),
    Column("size_gb", Integer, nullable=False),
    Column("volume_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("image_id", String(64)),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("cmk_id", String(64)),
    Column("created", String(32), nullable=False),
    # The host that holds the disk (the one its jobs run on).
    Column("host_id", String(64), nullable=False, server_default="local"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("job_type", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("server_id", String(64)),
    # The hypervisor host a worker must run on to execute this job; NULL: any worker.
    Column("host_id", String(64)),
    Column("phase", String(16), nullable=False, default="forward"),  # forward | rollback
    Column("params", JSON, nullable=False),
    Column("created", String(32), nullable=False),
    Column("begin_time", String(32)),
    Column("end_time", String(32)),
    Column("error_code", String(64)),
    Column("fail_reason", Text),
    Column("lease_owner", String(64)),
    Column("lease_expires", Float),
    # A job that spans hosts is one job (what its caller sees) with one part per host: each
    # part is a job of its own, bound to its host, whose parent_id names the job shown.
    Column("parent_id", String(64), index=True),
    # Set by CancelJob; the runner reads it at each step boundary (jobs/runner.py).
    Column("cancel_requested", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_jobs_runnable", "status", "lease_expires"),
    Index("ix_jobs_created", "created"),
)

sub_jobs = Table(
    "sub_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(64), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("job_type", String(64), nullable=False),
    Column("server_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("begin_time", String(32)),
    Column("end_time", String(32)),
    Column("error_code", String(64)),
    Column("fail_reason", Text),
    UniqueConstraint("job_id", "seq"),
)

sim_faults = Table(
    "sim_faults",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("step", String(64), nullable=False),
    Column("server_id", String(64)),  # NULL: any server
    Column("remaining", Integer, nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("message", Text, nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    # SHA-256 of the token: the token itself is never stored.
    Column("token_digest", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    # NULL: an unscoped token (a login without a scope), which acts in no project.
    Column("project_id", String(64), ForeignKey("projects.id")),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_auth_tokens_expires", "expires_at"),
)

seen_signatures = Table(
    "seen_signatures",
    metadata,
    # Signatures of mutating AK/SK requests, kept until their X-Sdk-Date leaves the validity
    # window (opt-in replay refusal, settings.refuse_replayed_signatures).
    Column("signature", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Index("ix_seen_signatures_expires", "expires_at"),
)

client_tokens = Table(
    "client_tokens",
    metadata,
    # X-Client-Token idempotency: the same token with the same request returns the same job.
    Column("project_id", String(64), primary_key=True),
    Column("token", String(64), primary_key=True),
    # Keyed HMAC of the request (a body may hold a password: never a plain hash of it).
    Column("fingerprint", String(64), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False, index=True),
)

events = Table(
    "events",
    metadata,
    # The stream's resume point (SSE ``id``). Ids are handed out in commit order (SQLite: one
    # writer at a time; PostgreSQL: an advisory lock held from the insert to the commit), so a
    # reader that has seen id N never later finds a smaller id committed.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # job | server
    Column("job_id", String(64)),  # the job event's job, or the job that changed the server
    Column("server_id", String(64)),
    # The exact body the API answered at that moment (GET job, or {"server": ShowServer}).
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_events_project", "project_id", "id"),
    Index("ix_events_job", "job_id"),
    # Ids never go back, even after every row was deleted (admin reset).
    sqlite_autoincrement=True,
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("driver", String(32), nullable=False),
    # Where this host's guests' forwarded ports are reached (the runner's address).
    Column("address", String(255), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    Column("vcpus", Integer, nullable=False),
    Column("ram_mb", Integer, nullable=False),
    Column("disk_gb", Integer, nullable=False),
    Column("cpu_ratio", Float, nullable=False),
    Column("ram_ratio", Float, nullable=False),
    Column("disk_ratio", Float, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    # Epoch seconds, written by each runner of the host; up while fresh.
    Column("heartbeat", Float),
    # Seconds after its last heartbeat the host counts as down (its runners' setting).
    Column("down_after", Float, nullable=False),
)

allocations = Table(
    "allocations",
    metadata,
    # What a server holds on its host, recorded when it is placed (the create's acceptance)
    # and removed with the server: placement sums these under the hosts' row locks.
    Column("server_id", String(64), primary_key=True),
    Column("host_id", String(64), nullable=False, index=True),
    Column("vcpus", Integer, nullable=False),
    Column("ram_mb", Integer, nullable=False),
    Column("disk_gb", Integer, nullable=False),
)
