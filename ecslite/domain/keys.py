"""Public-key facts the API reports (the fingerprint Nova shows), computed without the store."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization

from ecslite.domain import errors


def fingerprint(public_key: str) -> str:
    """Return the MD5 fingerprint (colon-separated hex) of an OpenSSH public key, as Nova does."""
    parts = public_key.strip().split()
    if len(parts) < 2:
        raise errors.EcsError(errors.INVALID_PARAMETER, "public_key is not an OpenSSH public key.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        serialization.load_ssh_public_key(public_key.strip().encode())
    except Exception:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "public_key is not a valid OpenSSH public key."
        ) from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
