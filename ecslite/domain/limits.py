"""The limits the API advertises (``GET .../limits``, docs), as pure rules every front door
calls: the ECS routes, Nova, the web console.

``ADVERTISED`` is what ``limits`` answers; each rule below refuses a request that crosses one
of them, with the code the API uses for a bad parameter (``Ecs.0005``, 400 — Nova's
``badRequest`` on Nova paths) or, for the key pair count, a quota refusal (403, Nova's
``forbidden``, as Nova answers "Quota exceeded, too many key pairs"). Every limit a
door enforces has its value here, one constant each, also those whose rule lives with the rest
of its resource's rules:

- server names: ECS 1-64 characters (``domain.create.server_names``, Ecs.0914), Nova 1-255
  (``domain.create.nova_server_names``); count per create 1-100 (both);
- user_data: at most 32 KB before encoding (``domain.reinstall.decode_user_data``);
- key pair names: 1-64 characters (``domain.keypair_rules``);
- image metadata (Glance properties, Nova's image metadata): at most 128 items
  (``services.images``), keys 1-255 characters.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecslite.domain import errors

MAX_SERVER_META = 10
META_KEY_MAX = 255
META_VALUE_MAX = 255
MAX_KEYPAIRS_PER_USER = 100
MAX_PERSONALITY = 5
MAX_PERSONALITY_SIZE = 10240
MAX_PERSONALITY_PATH = 255
MAX_IMAGE_META = 128
SERVER_NAME_MAX = 64
NOVA_SERVER_NAME_MAX = 255
MAX_COUNT = 100
USER_DATA_MAX_BYTES = 32 * 1024
KEYPAIR_NAME_MAX = 64

ADVERTISED: dict[str, int] = {
    "maxTotalKeypairs": MAX_KEYPAIRS_PER_USER,
    "maxServerMeta": MAX_SERVER_META,
    "maxPersonality": MAX_PERSONALITY,
    "maxPersonalitySize": MAX_PERSONALITY_SIZE,
    "maxImageMeta": MAX_IMAGE_META,
}

KEYPAIR_QUOTA = errors.ErrorSpec("Ecs.0005", 403, "Quota exceeded, too many key pairs.")
# Too many metadata items: a bad parameter on ECS's routes (as before), Nova's 403 "Quota
# exceeded for metadata items" on Nova's (api/nova/faults.py maps it by identity).
METADATA_ITEMS = errors.ErrorSpec("Ecs.0005", 400, "Invalid parameter values.")


def check_metadata(metadata: Mapping[str, str] | None) -> None:
    """At most ``MAX_SERVER_META`` items; keys 1-255 characters, values at most 255."""
    if not metadata:
        return
    if len(metadata) > MAX_SERVER_META:
        raise errors.EcsError(
            METADATA_ITEMS,
            f"metadata has {len(metadata)} items; at most {MAX_SERVER_META} (maxServerMeta).",
        )
    for key, value in metadata.items():
        if not 1 <= len(key) <= META_KEY_MAX:
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                f"A metadata key must be 1-{META_KEY_MAX} characters; one has {len(key)}.",
            )
        if len(value) > META_VALUE_MAX:
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                f"A metadata value must be at most {META_VALUE_MAX} characters; "
                f"one has {len(value)}.",
            )


def check_image_metadata(metadata: Mapping[str, str]) -> None:
    """Nova's image metadata items: keys 1-255 characters, values at most 255 (the count is
    the image's, checked where the items are merged in: ``MAX_IMAGE_META``)."""
    for key, value in metadata.items():
        if not 1 <= len(key) <= META_KEY_MAX or len(value) > META_VALUE_MAX:
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                f"A metadata key must be 1-{META_KEY_MAX} characters and a value at most "
                f"{META_VALUE_MAX}.",
            )


def check_keypair_count(existing: int) -> None:
    """A user who already has ``existing`` key pairs may add one more only below the quota."""
    if existing >= MAX_KEYPAIRS_PER_USER:
        raise errors.EcsError(
            KEYPAIR_QUOTA, f"A user may have at most {MAX_KEYPAIRS_PER_USER} (maxTotalKeypairs)."
        )
