"""Key pairs (Nova ``os-keypairs``): owned by a user, imported or generated."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.exc import IntegrityError

from ecslite.domain import errors, limits
from ecslite.domain.clock import Clock
from ecslite.domain.keypair_rules import check_name
from ecslite.domain.keys import fingerprint
from ecslite.domain.resources import Keypair
from ecslite.store.uow import UowFactory


def generate_keypair() -> tuple[str, str]:
    """Return (public key in OpenSSH form, private key in PEM) for a new RSA-2048 key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return public, private


def create_keypair(
    *,
    user_id: str,
    name: str,
    public_key: str | None,
    key_type: str,
    uow_factory: UowFactory,
    clock: Clock,
) -> tuple[Keypair, str | None]:
    """Import ``public_key``, or generate a pair; return the key pair and the private key once."""
    check_name(name)
    if key_type not in ("ssh", "x509"):
        raise errors.EcsError(errors.INVALID_PARAMETER, "type must be 'ssh' or 'x509'.")
    private_key = None
    if public_key is None:
        public_key, private_key = generate_keypair()
    kp = Keypair(
        user_id=user_id,
        name=name,
        public_key=public_key.strip(),
        fingerprint=fingerprint(public_key),
        type=key_type,
        created=clock.iso(),
    )
    with uow_factory() as uow:
        if uow.catalog.keypair(user_id, name) is not None:
            raise errors.EcsError(errors.KEYPAIR_EXISTS, f"Key pair '{name}' already exists.")
        limits.check_keypair_count(len(uow.catalog.keypairs(user_id)))
        try:
            uow.catalog.add_keypair(kp)
            uow.commit()
        except IntegrityError:
            raise errors.EcsError(
                errors.KEYPAIR_EXISTS, f"Key pair '{name}' already exists."
            ) from None
    return kp, private_key
