"""Public-key facts the API reports (the fingerprint Nova shows), computed without the store."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ecslite.domain import errors
from ecslite.domain.keypair_rules import parse_public_key


def fingerprint(public_key: str) -> str:
    """Return the MD5 fingerprint (colon-separated hex) of an OpenSSH public key, as Nova does.

    ``public_key`` must be exactly one key of a supported type (``domain.keypair_rules``).
    """
    key = parse_public_key(public_key)
    try:
        serialization.load_ssh_public_key(key.line.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "public_key is not a valid OpenSSH public key."
        ) from None
    digest = hashlib.md5(key.blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
