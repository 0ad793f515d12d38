"""Identity records for authentication: access keys, password hashes, tokens, name lookups."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ecslite.domain.resources import Project, User
from ecslite.store import tables as t


@dataclass(frozen=True)
class Domain:
    id: str
    name: str


@dataclass(frozen=True)
class StoredAccessKey:
    access_key: str
    user: User
    secret_sealed: bytes


@dataclass(frozen=True)
class StoredToken:
    user: User
    project_id: str | None  # None: unscoped
    issued_at: float
    expires_at: float


def _user(row: object) -> User:
    return User(row.id, row.name, row.domain_id)  # type: ignore[attr-defined]


class IdentityRepo:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def domain(self, *, domain_id: str | None = None, name: str | None = None) -> Domain | None:
        q = select(t.domains)
        if domain_id is not None:
            q = q.where(t.domains.c.id == domain_id)
        if name is not None:
            q = q.where(t.domains.c.name == name)
        row = self._c.execute(q.limit(2)).all()
        return Domain(row[0].id, row[0].name) if len(row) == 1 else None

    def add_domain(self, domain: Domain) -> bool:
        """Insert the domain unless its id exists; return whether it was inserted."""
        found = self._c.execute(select(t.domains.c.id).where(t.domains.c.id == domain.id)).first()
        if found is not None:
            return False
        self._c.execute(insert(t.domains).values(id=domain.id, name=domain.name))
        return True

    def user(self, user_id: str) -> User | None:
        row = self._c.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return _user(row) if row else None

    def add_user(self, user: User, *, password_hash: str | None) -> bool:
        """Insert the user (with its argon2 password hash, if any) unless its id exists."""
        if self.user(user.id) is not None:
            return False
        self._c.execute(
            insert(t.users).values(
                id=user.id, name=user.name, domain_id=user.domain_id, password_hash=password_hash
            )
        )
        return True

    def user_by_name(self, domain_id: str, name: str) -> User | None:
        row = self._c.execute(
            select(t.users).where(t.users.c.domain_id == domain_id, t.users.c.name == name)
        ).first()
        return _user(row) if row else None

    def users_named(self, name: str) -> list[User]:
        rows = self._c.execute(select(t.users).where(t.users.c.name == name)).all()
        return [_user(r) for r in rows]

    def password_hash(self, user_id: str) -> str | None:
        value = self._c.execute(
            select(t.users.c.password_hash).where(t.users.c.id == user_id)
        ).scalar_one_or_none()
        return str(value) if value else None

    def projects_of_domain(self, domain_id: str) -> list[Project]:
        """The account's projects, by name (every user of an account may act in each)."""
        rows = self._c.execute(
            select(t.projects)
            .where(t.projects.c.domain_id == domain_id)
            .order_by(t.projects.c.name)
        ).all()
        return [Project(r.id, r.name, r.domain_id, r.region) for r in rows]

    def project_by_name(self, domain_id: str, name: str) -> Project | None:
        row = self._c.execute(
            select(t.projects).where(t.projects.c.domain_id == domain_id, t.projects.c.name == name)
        ).first()
        return Project(row.id, row.name, row.domain_id, row.region) if row else None

    def access_key(self, access_key: str) -> StoredAccessKey | None:
        row = self._c.execute(
            select(t.access_keys.c.secret_enc, t.users)
            .join(t.users, t.users.c.id == t.access_keys.c.user_id)
            .where(t.access_keys.c.access_key == access_key)
        ).first()
        if row is None:
            return None
        return StoredAccessKey(access_key, _user(row), bytes(row.secret_enc))

    def add_access_key(self, *, access_key: str, user_id: str, sealed: bytes, created: str) -> None:
        self._c.execute(
            insert(t.access_keys).values(
                access_key=access_key, user_id=user_id, secret_enc=sealed, created=created
            )
        )

    def delete_access_key(self, access_key: str) -> bool:
        res = self._c.execute(delete(t.access_keys).where(t.access_keys.c.access_key == access_key))
        return res.rowcount == 1

    def add_token(
        self,
        *,
        digest: str,
        user_id: str,
        project_id: str | None,
        issued_at: float,
        expires_at: float,
    ) -> None:
        self._c.execute(
            insert(t.auth_tokens).values(
                token_digest=digest,
                user_id=user_id,
                project_id=project_id,
                issued_at=issued_at,
                expires_at=expires_at,
            )
        )

    def token(self, digest: str) -> StoredToken | None:
        row = self._c.execute(
            select(
                t.auth_tokens.c.project_id,
                t.auth_tokens.c.issued_at,
                t.auth_tokens.c.expires_at,
                t.users,
            )
            .join(t.users, t.users.c.id == t.auth_tokens.c.user_id)
            .where(t.auth_tokens.c.token_digest == digest)
        ).first()
        if row is None:
            return None
        return StoredToken(_user(row), row.project_id, row.issued_at, row.expires_at)

    def remember_signature(self, signature: str, *, expires_at: float, now: float) -> bool:
        """Record ``signature`` until ``expires_at``; False if it is already recorded (a
        replay). Expired records are dropped first, so the table holds one window at most."""
        seen = t.seen_signatures
        self._c.execute(delete(seen).where(seen.c.expires_at < now))
        values = {"signature": signature, "expires_at": expires_at}
        # One statement that cannot fail on a duplicate, so concurrent API processes (on
        # PostgreSQL) agree on which of two simultaneous uses came first.
        # RETURNING says whether the row went in (rowcount is not reliable on every driver).
        if self._c.dialect.name == "postgresql":
            stmt = pg_insert(seen).values(**values).on_conflict_do_nothing()
            res = self._c.execute(stmt.returning(seen.c.signature))
        else:
            lite = sqlite_insert(seen).values(**values).on_conflict_do_nothing()
            res = self._c.execute(lite.returning(seen.c.signature))
        return res.first() is not None

    def forget_signature(self, signature: str) -> None:
        seen = t.seen_signatures
        self._c.execute(delete(seen).where(seen.c.signature == signature))

    def delete_token(self, digest: str) -> bool:
        res = self._c.execute(delete(t.auth_tokens).where(t.auth_tokens.c.token_digest == digest))
        return res.rowcount == 1

    def purge_tokens(self, *, expired_before: float) -> int:
        res = self._c.execute(
            delete(t.auth_tokens).where(t.auth_tokens.c.expires_at < expired_before)
        )
        return int(res.rowcount)
