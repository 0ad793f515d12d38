"""What cloud-init applies at a server's next boot: keys, password *hash*, user data, BYOL.

Stored with the server (the current config, and the one a running reinstall switches to) and
handed to the driver as its JSON form (domain/codec.py), which the config-drive renderer
reads. Never a plaintext secret: the password arrives already reduced to a SHA-512 crypt hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from ecslite.domain.codec import encode


@dataclass(frozen=True)
class BootConfig:
    instance_id: str
    key_name: str | None = None
    public_keys: tuple[str, ...] = ()
    password_hash: str | None = None
    # Stored and handed to the config-drive renderer as "user_data".
    user_data_b64: Annotated[str | None, Field(alias="user_data")] = None
    byol: bool = False


def seed_of(boot: BootConfig | None) -> dict[str, Any]:
    """The driver's seed argument: the config's JSON form, or {} for the baseline seed."""
    return encode(boot) if boot is not None else {}
