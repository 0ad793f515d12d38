"""Who may call: password logins, access keys, and the records an operator loads (seeds, images).

The API's login route and the CLI's ``credentials``, ``seed``, ``serve`` and ``image`` commands
are doors like any other: they ask this service and never hold the unit of work themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecslite.auth.credentials import (
    NewAccessKey,
    create_access_key,
    delete_access_key,
    find_user,
)
from ecslite.auth.keystone import IssuedToken, PasswordLogin, issue_token, read_token, user_scopes
from ecslite.domain.clock import Clock
from ecslite.domain.resources import Project, User
from ecslite.services.setup import apply_seeds, register_image_record
from ecslite.store.identity import Domain
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument
from ecslite.store.uow import UowFactory


class Accounts:
    def __init__(self, uow_factory: UowFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def issue_token(self, login: PasswordLogin, *, ttl_seconds: float) -> IssuedToken:
        """Check the password and scope; a new token. Raises ``AuthError`` on any mismatch."""
        return issue_token(
            login, uow_factory=self._uow_factory, clock=self._clock, ttl_seconds=ttl_seconds
        )

    def read_token(self, token: str) -> IssuedToken | None:
        """The live token ``token``, or None when it is unknown, revoked or expired."""
        return read_token(token, uow_factory=self._uow_factory, clock=self._clock)

    def user_scopes(self, user: User) -> tuple[Domain | None, list[Project]]:
        """The account and the projects ``user`` may scope a token to."""
        return user_scopes(user, uow_factory=self._uow_factory)

    def find_user(self, ref: str, *, domain: str | None) -> User:
        """The user ``ref`` names (id, or a name unique in ``domain``); ``UnknownUser`` if none."""
        return find_user(ref, domain=domain, uow_factory=self._uow_factory)

    def create_access_key(self, user: User, *, box: SecretBox) -> NewAccessKey:
        """A new AK/SK for ``user``; the secret is sealed in the store and returned only here."""
        return create_access_key(user, uow_factory=self._uow_factory, box=box, clock=self._clock)

    def delete_access_key(self, access_key: str) -> bool:
        """Revoke ``access_key``; False when there was none."""
        return delete_access_key(access_key, uow_factory=self._uow_factory)

    def apply_seeds(self, docs: Sequence[SeedDocument], *, box: SecretBox) -> list[dict[str, int]]:
        """Apply each seed (idempotent); what each one added, by kind."""
        return apply_seeds(docs, uow_factory=self._uow_factory, box=box, clock=self._clock)

    def register_image(
        self,
        image_id: str,
        *,
        name: str,
        cloud_init: bool,
        box: SecretBox,
        password_agent: bool = False,
    ) -> None:
        """Add an image to the catalogue (idempotent)."""
        register_image_record(
            image_id,
            name=name,
            cloud_init=cloud_init,
            password_agent=password_agent,
            uow_factory=self._uow_factory,
            box=box,
        )
