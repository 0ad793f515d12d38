"""The rules of a reinstall request that need no database: credentials, password, user data,
encryption. Each rule raises the ``EcsError`` the API documents for it.

Decisions where the spec's table and its examples disagree (recorded in docs/api.md):
``keyname`` is optional (example 1 uses only ``adminpass``); ``adminpass`` and ``keyname`` are
mutually exclusive; with neither, ``metadata.user_data`` must be given; ``keyname`` needs
``userid``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, computed_field

from ecslite.domain import errors
from ecslite.domain.limits import USER_DATA_MAX_BYTES
from ecslite.domain.server import VmState

PASSWORD_SPECIALS = frozenset("!@$%^-_=+[{}]:,./?")
PASSWORD_MIN, PASSWORD_MAX = 8, 26
PASSWORD_MIN_CLASSES = 3
# base64 of 32 KiB is 43,692 characters; anything longer cannot decode within the limit, so it
# is refused before decoding.
USER_DATA_MAX_ENCODED = 4 * ((USER_DATA_MAX_BYTES + 2) // 3)


@dataclass(frozen=True)
class Encryption:
    cmk_id: str


def generate_password(length: int = 16) -> str:
    """A random password that meets ``check_password`` (Nova generates one when none is given)."""
    alphabet = string.ascii_letters + string.digits + "".join(sorted(PASSWORD_SPECIALS))
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        try:
            check_password(candidate)
        except errors.EcsError:
            continue
        return candidate


def check_password(password: str) -> None:
    """Refuse a password outside 8-26 characters or with fewer than three character classes."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise errors.EcsError(
            errors.PASSWORD_COMPLEXITY,
            f"adminpass must be {PASSWORD_MIN}-{PASSWORD_MAX} characters.",
        )
    allowed = set(string.ascii_letters) | set(string.digits) | PASSWORD_SPECIALS
    if any(ch not in allowed for ch in password):
        raise errors.EcsError(
            errors.PASSWORD_COMPLEXITY,
            "adminpass may contain only letters, digits and the special characters "
            "!@$%^-_=+[{}]:,./?",
        )
    classes = sum(
        (
            any(ch.isupper() for ch in password),
            any(ch.islower() for ch in password),
            any(ch.isdigit() for ch in password),
            any(ch in PASSWORD_SPECIALS for ch in password),
        )
    )
    if classes < PASSWORD_MIN_CLASSES:
        raise errors.EcsError(
            errors.PASSWORD_COMPLEXITY,
            "adminpass must contain at least three of: uppercase letters, lowercase letters, "
            "digits, special characters.",
        )


NOVA_PASSWORD_MAX = 255


def check_nova_password(password: str) -> None:
    """Nova's rule for ``adminPass``: none on content (Nova sets no complexity rule; the cloud's
    operator decides, as Tempest's generated passwords assume). Refused only what cannot be a
    usable login password: empty, over 255 characters, or holding a control character (no
    console can type one, and a newline would cut the password short in the guest's chpasswd).
    """
    if not 1 <= len(password) <= NOVA_PASSWORD_MAX:
        raise errors.EcsError(
            errors.PASSWORD_COMPLEXITY, f"adminPass must be 1-{NOVA_PASSWORD_MAX} characters."
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise errors.EcsError(
            errors.PASSWORD_COMPLEXITY, "adminPass may not contain control characters."
        )


def decode_user_data(encoded: str) -> bytes:
    """Return the decoded user data; refuse non-base64 or more than 32 KB decoded."""
    if len(encoded) > USER_DATA_MAX_ENCODED:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "metadata.user_data must be at most 32 KB before encoding."
        )
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "metadata.user_data must be base64-encoded."
        ) from None
    check_user_data_size(raw)
    return raw


def check_user_data_size(raw: bytes) -> None:
    """Refuse empty user data or more than 32 KB (the limit is on the bytes, before base64)."""
    if not raw:
        raise errors.EcsError(errors.INVALID_PARAMETER, "metadata.user_data must not be empty.")
    if len(raw) > USER_DATA_MAX_BYTES:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "metadata.user_data must be at most 32 KB before encoding."
        )


def check_credentials(
    *, adminpass: str | None, keyname: str | None, userid: str | None, has_user_data: bool
) -> None:
    """Enforce which login credentials may be combined."""
    if adminpass is not None and keyname is not None:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "adminpass and keyname cannot be specified together."
        )
    if keyname is not None and not userid:
        raise errors.EcsError(errors.INVALID_PARAMETER, "userid is required when keyname is used.")
    if adminpass is None and keyname is None and not has_user_data:
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            "Specify adminpass, keyname, or metadata.user_data to set the login credentials.",
        )
    if adminpass is not None:
        check_password(adminpass)


def parse_encryption(encrypted: str | None, cmk_id: str | None) -> Encryption | None:
    """Return the requested system-disk encryption, or None for an unencrypted disk."""
    if encrypted is None:
        if cmk_id:
            raise errors.EcsError(
                errors.BAD_ENCRYPTION_KEY,
                "__system__cmkid must be used with __system__encrypted set to 1.",
            )
        return None
    if encrypted not in ("0", "1"):
        raise errors.EcsError(errors.INVALID_PARAMETER, "__system__encrypted must be '0' or '1'.")
    if encrypted == "0":
        return None
    if not cmk_id:
        raise errors.EcsError(
            errors.BAD_ENCRYPTION_KEY, "__system__cmkid is required when __system__encrypted is 1."
        )
    return Encryption(cmk_id=cmk_id)


@dataclass(frozen=True)
class ReinstallParams:
    """What a reinstall job needs from its acceptance on: the disks and the state to restore."""

    old_volume_id: str
    new_volume_id: str
    device: str
    size_gb: int
    volume_type: str
    image_id: str
    # Required here; a stored document without them (none is written so) decodes them as None.
    cmk_id: Annotated[str | None, Field(default=None)]
    key_name: Annotated[str | None, Field(default=None)]
    original_vm_state: VmState
    original_fault: Annotated[dict[str, Any] | None, Field(default=None)]
    # The image has no cloud-init: credentials are written into the new disk before it boots
    # and the boot is verified by the console's login prompt.
    # Stored only when set, so the other reinstalls' records are unchanged.
    offline_credentials: Annotated[bool, Field(exclude_if=lambda v: not v)] = False

    # Stored too (after the fields), though decoding derives it again from cmk_id.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def encrypted(self) -> bool:
        return self.cmk_id is not None
