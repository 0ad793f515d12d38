"""What cloud-init applies at a server's next boot: keys, password *hash*, user data, BYOL.

Stored with the server (the current config, and the one a running reinstall switches to) and
handed to the driver as this typed value (None: the server's baseline seed). Never a plaintext
secret: the password arrives already reduced to a SHA-512 crypt hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class BootConfig:
    instance_id: str
    key_name: str | None = None
    public_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    # Stored and handed to the config-drive renderer as "user_data".
    user_data_b64: Annotated[str | None, Field(alias="user_data")] = None
    byol: bool = False
