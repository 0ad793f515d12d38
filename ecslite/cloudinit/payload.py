"""Build the next-boot payload a driver renders into cloud-init data.

The payload holds only what cloud-init needs and never a plaintext secret: the password arrives
here already reduced to a SHA-512 crypt hash.
"""

from __future__ import annotations

import base64
import uuid

from passlib.hash import sha512_crypt

from ecslite.domain.boot import BootConfig


def hash_password(password: str) -> str:
    """Return a SHA-512 crypt hash (``$6$``) with glibc's default 5000 rounds."""
    return str(sha512_crypt.using(rounds=5000).hash(password))


def build_boot_config(
    *,
    public_key: str | None,
    key_name: str | None,
    password_hash: str | None,
    user_data: bytes | None,
    byol: bool,
) -> BootConfig:
    """Return the config for the next boot, with a fresh instance-id."""
    return BootConfig(
        instance_id=f"i-{uuid.uuid4().hex}",
        key_name=key_name,
        public_keys=(public_key,) if public_key else (),
        password_hash=password_hash,
        user_data_b64=base64.b64encode(user_data).decode("ascii") if user_data else None,
        byol=byol,
    )
