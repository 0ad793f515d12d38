"""Create and revoke access keys (AK/SK) for a user: the operator's ``ecslite credentials``."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from ecslite.domain.clock import Clock
from ecslite.domain.resources import User
from ecslite.store.secretbox import SecretBox
from ecslite.store.uow import UowFactory

_AK_ALPHABET = string.ascii_uppercase + string.digits


class UnknownUser(LookupError):
    pass


@dataclass(frozen=True)
class NewAccessKey:
    access_key: str
    secret_key: str
    user: User


def find_user(ref: str, *, domain: str | None, uow_factory: UowFactory) -> User:
    """Return the user whose id is ``ref``, or the only user named ``ref`` (in ``domain``,
    given by id or name, when several accounts have a user of that name)."""
    with uow_factory(write=False) as uow:
        ident = uow.identity
        by_id = ident.user(ref)
        if by_id is not None and domain is None:
            return by_id
        candidates = ident.users_named(ref) + ([by_id] if by_id else [])
        if domain is not None:
            d = ident.domain(domain_id=domain) or ident.domain(name=domain)
            candidates = [u for u in candidates if d is not None and u.domain_id == d.id]
    unique = {u.id: u for u in candidates}
    if len(unique) != 1:
        raise UnknownUser(
            f"no user {ref!r}" if not unique else f"several users are named {ref!r}; pass --domain"
        )
    return next(iter(unique.values()))


def create_access_key(
    user: User, *, uow_factory: UowFactory, box: SecretBox, clock: Clock
) -> NewAccessKey:
    """Store a new access key for ``user``; the secret is sealed, and returned only here."""
    ak = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
    sk = secrets.token_urlsafe(30)
    with uow_factory() as uow:
        uow.identity.add_access_key(
            access_key=ak, user_id=user.id, sealed=box.seal(sk), created=clock.iso(millis=False)
        )
        uow.commit()
    return NewAccessKey(access_key=ak, secret_key=sk, user=user)


def delete_access_key(access_key: str, *, uow_factory: UowFactory) -> bool:
    with uow_factory() as uow:
        deleted = uow.identity.delete_access_key(access_key)
        uow.commit()
    return deleted
