"""What a key pair name and an imported public key must be (Nova ``os-keypairs``).

A name is matched as a whole (``fullmatch``): a pattern anchored with ``$`` would also accept a
trailing newline, and ``"adv-key\\n"`` would be stored and later fail to match what a user
types. A public key is exactly one OpenSSH public key line of a supported type: with a second
line the fingerprint would describe only the first key while the guest would trust both, so
anything after the first key is refused rather than stored. The key's wire blob must name the
same type as its text prefix. Pure functions; the cryptographic parse happens in the service.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import NoReturn

from ecslite.domain import errors
from ecslite.domain.limits import KEYPAIR_NAME_MAX

NAME = re.compile(rf"[A-Za-z0-9_\-. ]{{1,{KEYPAIR_NAME_MAX}}}")
SUPPORTED_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)
MAX_PUBLIC_KEY_CHARS = 16 * 1024  # an RSA-16384 key line is about 2,800 characters
_COMMENT = re.compile(r"[\x20-\x7e]*")  # printable ASCII, spaces allowed


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def line(self) -> str:
        """The key as it is stored: one line, normalised spacing."""
        b64 = base64.b64encode(self.blob).decode("ascii")
        return f"{self.key_type} {b64}" + (f" {self.comment}" if self.comment else "")


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"Key pair name must be 1-{KEYPAIR_NAME_MAX} letters, digits, spaces, '.', '_' or '-'.",
        )


def parse_public_key(text: str) -> PublicKey:
    """The one OpenSSH public key in ``text`` (surrounding whitespace ignored), or Ecs.0005."""
    if len(text) > MAX_PUBLIC_KEY_CHARS:
        _refuse(f"it is longer than {MAX_PUBLIC_KEY_CHARS} characters.")
    line = text.strip()
    if "\n" in line or "\r" in line:
        _refuse("it must be exactly one key, on one line.")
    parts = line.split(None, 2)
    if len(parts) < 2:
        _refuse("expected '<type> <base64> [comment]'.")
    key_type, b64 = parts[0], parts[1]
    comment = parts[2] if len(parts) == 3 else ""
    if key_type not in SUPPORTED_TYPES:
        _refuse(f"the key type must be one of {', '.join(SUPPORTED_TYPES)}.")
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        _refuse("the key is not valid base64.")
    if _blob_type(blob) != key_type:
        _refuse(f"the key data is not a {key_type} key.")
    if not _COMMENT.fullmatch(comment):
        _refuse("the comment must be printable ASCII.")
    return PublicKey(key_type=key_type, blob=blob, comment=comment)


def _blob_type(blob: bytes) -> str | None:
    # The wire format starts with the key type as an SSH string: uint32 length, then bytes.
    if len(blob) < 4:
        return None
    n = int.from_bytes(blob[:4], "big")
    if n > 64 or len(blob) < 4 + n:
        return None
    return blob[4 : 4 + n].decode("ascii", "replace")


def _refuse(reason: str) -> NoReturn:
    raise errors.EcsError(
        errors.INVALID_PARAMETER, f"public_key is not a valid OpenSSH public key: {reason}"
    )
