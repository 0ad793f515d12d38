"""ecslite's KMS store: customer master keys (CMKs) and envelope encryption of data keys.

A CMK's material is 32 random bytes created on first use, kept in ``DATA_DIR/kms/<cmk_id>.cmk``
sealed with the service's master key (so it is encrypted at rest and never in the database).
A data key (one per encrypted disk) is wrapped with AES-256-GCM under its CMK, bound to the
project and CMK by the associated data; only the wrapped form is ever stored.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecslite.store.secretbox import SecretBox
from ecslite.store.uow import UowFactory

_VERSION = b"\x01"


class KmsError(Exception):
    """The CMK is missing, disabled, or does not open this wrapped key."""


class KeyStore:
    def __init__(self, root: Path, *, box: SecretBox, uow_factory: UowFactory) -> None:
        self.root = root
        self._box = box
        self._uow = uow_factory

    def generate_data_key(self, *, cmk_id: str, project_id: str) -> tuple[bytes, bytes]:
        """Return ``(plaintext, wrapped)``: a new 256-bit data key and its envelope."""
        cmk = AESGCM(self._material(cmk_id, project_id))
        plaintext = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        sealed = cmk.encrypt(nonce, plaintext, _aad(cmk_id, project_id))
        return plaintext, _VERSION + nonce + sealed

    def decrypt(self, wrapped: bytes, *, cmk_id: str, project_id: str) -> bytes:
        """Return the data key inside ``wrapped``; KmsError if the CMK cannot open it."""
        if not wrapped.startswith(_VERSION) or len(wrapped) < 1 + 12 + 16:
            raise KmsError("Not a wrapped data key.")
        cmk = AESGCM(self._material(cmk_id, project_id))
        try:
            return cmk.decrypt(wrapped[1:13], wrapped[13:], _aad(cmk_id, project_id))
        except InvalidTag:
            raise KmsError("The CMK does not open this data key.") from None

    def _material(self, cmk_id: str, project_id: str) -> bytes:
        with self._uow(write=False) as uow:
            key = uow.catalog.kms_key(cmk_id, project_id)
        if key is None or not key.enabled:
            raise KmsError(f"CMK {cmk_id} does not exist in the project or is not enabled.")
        if not cmk_id or "/" in cmk_id or cmk_id.startswith("."):
            raise KmsError("Bad CMK id.")
        path = self.root / f"{cmk_id}.cmk"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            sealed = self._box.seal(base64.b64encode(secrets.token_bytes(32)).decode())
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # created concurrently; use that one
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(sealed)
        return base64.b64decode(self._box.open(path.read_bytes()))


def _aad(cmk_id: str, project_id: str) -> bytes:
    return f"ecslite-dek:{project_id}:{cmk_id}".encode()
