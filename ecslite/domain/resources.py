"""Tenancy and catalogue records: domains, users, projects, images, key pairs, KMS keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    id: str
    name: str
    domain_id: str


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    domain_id: str
    region: str


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    status: str
    cloud_init: bool
    os_type: str
    min_disk_gb: int
    project_id: str | None = None
    # The image ships a guest agent that sets passwords (one-click password reset).
    password_agent: bool = False
    # What Glance records of an image (set for uploaded images; built ones have no size etc.).
    min_ram_mb: int = 0
    size: int | None = None
    checksum: str | None = None  # MD5 hex
    os_hash_value: str | None = None  # SHA-512 hex
    disk_format: str | None = None
    tags: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Keypair:
    user_id: str
    name: str
    public_key: str
    fingerprint: str
    type: str
    created: str
    id: int = 0


@dataclass(frozen=True)
class KmsKey:
    id: str
    project_id: str
    alias: str
    state: str

    @property
    def enabled(self) -> bool:
        return self.state == "enabled"
