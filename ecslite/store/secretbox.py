"""Encrypt secrets at rest (secret access keys) with a master key kept outside the database."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the master key from ``path``, creating it (mode 0600) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def fingerprint(self, data: bytes) -> str:
        """Return a keyed digest of ``data``: comparable, but not reversible or guessable offline."""
        key = hashlib.sha256(b"ecslite-fingerprint:" + self._key).digest()
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._fernet.decrypt(sealed).decode()
