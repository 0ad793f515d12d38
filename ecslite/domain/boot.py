"""What cloud-init applies at a server's next boot: keys, password *hash*, user data, BYOL.

Stored with the server (the current config, and the one a running reinstall switches to) and
handed to the driver as this typed value (None: the server's baseline seed). Never a plaintext
secret: the password arrives already reduced to a SHA-512 crypt hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BootConfig:
    instance_id: str
    key_name: str | None = None
    public_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    user_data_b64: str | None = None
    byol: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "instance_id": self.instance_id,
            "key_name": self.key_name,
            "public_keys": list(self.public_keys),
            "password_hash": self.password_hash,
            "user_data": self.user_data_b64,
            "byol": self.byol,
        }

    @staticmethod
    def from_json(value: Mapping[str, Any] | None) -> BootConfig | None:
        if not value:
            return None
        return BootConfig(
            instance_id=str(value["instance_id"]),
            key_name=value.get("key_name"),
            public_keys=tuple(value.get("public_keys") or ()),
            password_hash=value.get("password_hash"),
            user_data_b64=value.get("user_data"),
            byol=bool(value.get("byol")),
        )
