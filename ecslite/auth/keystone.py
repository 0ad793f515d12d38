"""Password login that issues tokens, project-scoped or unscoped, as Keystone v3 / IAM do; and
the reading back of a token (``GET /v3/auth/tokens``) and of the projects a user may scope to.

Tokens are random (256 bits); only their SHA-256 digest is stored. A failed login costs the same
argon2 verification whether or not the user exists, and every failure is the same ``AuthError``.
An unscoped token (a login without ``scope``) proves who the user is and acts in no project: it
can list the user's projects and be exchanged for nothing else here.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecslite.auth.authenticator import AuthError, token_digest
from ecslite.domain import errors
from ecslite.domain.clock import Clock
from ecslite.domain.resources import Project, User
from ecslite.store.identity import Domain, IdentityRepo
from ecslite.store.uow import UowFactory

DEFAULT_TOKEN_TTL_SECONDS = 24 * 3600
_HASHER = PasswordHasher()


def _unmatchable_hash(hasher: PasswordHasher) -> str:
    """An argon2 hash with ``hasher``'s parameters, a random salt and a random digest: checking
    a password against it costs as much as against a real one and never succeeds. Built without
    hashing anything, so importing this module (every process start) costs no argon2 work."""

    def b64(n: int) -> str:
        return base64.b64encode(secrets.token_bytes(n)).decode().rstrip("=")

    return (
        f"$argon2id$v=19$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
        f"${b64(hasher.salt_len)}${b64(hasher.hash_len)}"
    )


# Verified against when the user is unknown, so that path takes as long as a wrong password.
_DUMMY_HASH = _unmatchable_hash(_HASHER)


@dataclass(frozen=True)
class PasswordLogin:
    """``auth.identity.password.user`` and ``auth.scope.project`` of a token request."""

    password: str
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    issued_at: float
    expires_at: float
    user: User
    domain: Domain
    project: Project | None  # None: unscoped
    project_domain: Domain | None


def issue_token(
    login: PasswordLogin, *, uow_factory: UowFactory, clock: Clock, ttl_seconds: float
) -> IssuedToken:
    """Check the password and scope; return a new token. Raises ``AuthError`` on any mismatch,
    ``EcsError`` (Ecs.0005) when the request does not say who or which project."""
    if login.user_id is None and login.user_name is None:
        raise errors.EcsError(errors.INVALID_PARAMETER, "user.id or user.name is required.")
    if login.user_id is None and login.user_domain_id is None and login.user_domain_name is None:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "user.domain (id or name) is required with user.name."
        )
    scoped = login.project_id is not None or login.project_name is not None
    with uow_factory(write=False) as uow:
        ident = uow.identity
        user = _find_user(login, ident)
        stored_hash = ident.password_hash(user.id) if user else None
        domain = ident.domain(domain_id=user.domain_id) if user else None
        project = None
        if user is not None:
            if login.project_id is not None:
                project = uow.catalog.project(login.project_id)
            elif login.project_name is not None:
                project = ident.project_by_name(user.domain_id, login.project_name)
    if not _password_ok(stored_hash, login.password) or user is None or domain is None:
        raise AuthError("wrong user or password")
    if scoped and (project is None or project.domain_id != user.domain_id):
        raise AuthError("scope project not in the user's account")
    now = clock.now()
    token = secrets.token_urlsafe(32)
    issued = IssuedToken(
        token=token,
        issued_at=now,
        expires_at=now + ttl_seconds,
        user=user,
        domain=domain,
        project=project,
        project_domain=domain if project is not None else None,
    )
    with uow_factory() as uow:
        uow.identity.purge_tokens(expired_before=now)
        uow.identity.add_token(
            digest=token_digest(token),
            user_id=user.id,
            project_id=project.id if project is not None else None,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
        )
        uow.commit()
    return issued


def read_token(token: str, *, uow_factory: UowFactory, clock: Clock) -> IssuedToken | None:
    """The live token ``token`` (its user, account and scope), or None when it is unknown,
    revoked or expired: Keystone answers all three alike (404 on validation)."""
    with uow_factory(write=False) as uow:
        stored = uow.identity.token(token_digest(token.strip()))
        if stored is None or stored.expires_at <= clock.now():
            return None
        domain = uow.identity.domain(domain_id=stored.user.domain_id)
        project = uow.catalog.project(stored.project_id) if stored.project_id else None
        project_domain = (
            uow.identity.domain(domain_id=project.domain_id) if project is not None else None
        )
    if domain is None or (stored.project_id is not None and project is None):
        return None
    return IssuedToken(
        token=token,
        issued_at=stored.issued_at,
        expires_at=stored.expires_at,
        user=stored.user,
        domain=domain,
        project=project,
        project_domain=project_domain,
    )


def user_scopes(user: User, *, uow_factory: UowFactory) -> tuple[Domain | None, list[Project]]:
    """The account and the projects ``user`` may scope a token to: every project of its
    account."""
    with uow_factory(write=False) as uow:
        return (
            uow.identity.domain(domain_id=user.domain_id),
            uow.identity.projects_of_domain(user.domain_id),
        )


def _find_user(login: PasswordLogin, ident: IdentityRepo) -> User | None:
    domain = None
    if login.user_domain_id is not None or login.user_domain_name is not None:
        domain = ident.domain(domain_id=login.user_domain_id, name=login.user_domain_name)
        if domain is None:
            return None
    if login.user_id is not None:
        user = ident.user(login.user_id)
        if user is None or (domain is not None and user.domain_id != domain.id):
            return None
        if login.user_name is not None and user.name != login.user_name:
            return None
        return user
    if login.user_name is None or domain is None:
        return None  # a name without its domain names no user (Keystone's rule)
    return ident.user_by_name(domain.id, login.user_name)


def _password_ok(stored_hash: str | None, password: str) -> bool:
    try:
        return (
            bool(_HASHER.verify(stored_hash or _DUMMY_HASH, password)) and stored_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
