"""Key pairs (Nova ``os-keypairs``): owned by a user, imported or generated. The commands every
door builds (Nova routes, console) and their handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.exc import IntegrityError

from ecslite.domain import errors, limits
from ecslite.domain.clock import Clock
from ecslite.domain.keypair_rules import check_name
from ecslite.domain.keys import fingerprint
from ecslite.domain.resources import Keypair
from ecslite.services.command import Command, Ports
from ecslite.store.uow import UowFactory


@dataclass(frozen=True)
class KeypairCreated:
    keypair: Keypair
    # Only when the pair was generated: shown to the caller once, never kept.
    private_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CreateKeypair(Command[KeypairCreated]):
    """Import ``public_key`` (or generate a pair when None) as the caller's key pair.

    ``for_user_id``: another user of the caller's account (domain ``domain_id``) to own it.
    """

    user_id: str | None
    domain_id: str | None
    name: str
    public_key: str | None = None
    key_type: str = "ssh"
    for_user_id: str | None = None


@dataclass(frozen=True)
class DeleteKeypair(Command[None]):
    user_id: str | None
    name: str


def handle_create(cmd: CreateKeypair, ports: Ports) -> KeypairCreated:
    if cmd.user_id is None:
        raise errors.EcsError(errors.FORBIDDEN, "No user is known for this project.")
    owner = cmd.user_id
    if cmd.for_user_id is not None and cmd.for_user_id != cmd.user_id:
        with ports.uow_factory(write=False) as uow:
            other = uow.identity.user(cmd.for_user_id)
        if other is None or other.domain_id != cmd.domain_id:
            raise errors.EcsError(
                errors.INVALID_PARAMETER, "user_id is not a user of this account."
            )
        owner = other.id
    kp, private_key = create_keypair(
        user_id=owner,
        name=cmd.name,
        public_key=cmd.public_key,
        key_type=cmd.key_type,
        uow_factory=ports.uow_factory,
        clock=ports.clock,
    )
    return KeypairCreated(kp, private_key)


def handle_delete(cmd: DeleteKeypair, ports: Ports) -> None:
    deleted = False
    if cmd.user_id is not None:
        with ports.uow_factory() as uow:
            deleted = uow.catalog.delete_keypair(cmd.user_id, cmd.name)
            uow.commit()
    if not deleted:
        raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)


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
