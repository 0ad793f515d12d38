"""Resolve a request's credentials into an ``Identity``, and an identity plus a URL into a
``Principal``.

Two kinds of credentials are accepted:

- an ``Authorization: SDK-HMAC-SHA256 ...`` signature made with an access key's secret (what the
  official SDKs send), optionally naming a project in ``X-Project-Id``;
- an ``X-Auth-Token`` issued by ``POST /v3/auth/tokens``, scoped to one project.

With ``refuse_replays`` (on by default), a mutating AK/SK request whose signature was already
used is refused: the store remembers each such signature until its X-Sdk-Date leaves the
allowed skew, so every API process sharing the store refuses the replay. A request that was
refused (4xx/5xx) releases its signature, so retrying a refused call works. Two exceptions:

- a request whose signature covers an ``X-Client-Token`` sent to a route that honours it
  (``IDEMPOTENT_PATHS``) may be repeated — such a route answers a repeat with its first answer
  and starts nothing, and that is how a client retries safely;
- a repeat over the connection that carried the first use (``ConnectionSignatures``): X-Sdk-Date
  has a resolution of one second, so an SDK that sends the same create twice within a second
  sends the same signature twice, and over its own keep-alive connection that is the client
  again, not a third party replaying what it captured (which has a connection of its own).

Every refusal raises ``AuthError`` whose ``reason`` is for the service log only: callers answer
every refusal with the same 401 so a client learns nothing about which check failed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ecslite.auth import signature as sig
from ecslite.domain.clock import Clock
from ecslite.store.secretbox import SecretBox
from ecslite.store.uow import UowFactory

DEFAULT_MAX_SKEW_SECONDS = 15 * 60
# Requests whose replay would change something (replay refusal applies to these).
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Mutating routes that honour X-Client-Token (a repeat returns the first job, starts nothing).
IDEMPOTENT_PATHS = re.compile(
    r"^(/v2/[^/]+/cloudservers/[^/]+/(reinstallos|changeos)"
    r"|/v1(\.1)?/[^/]+/cloudservers(/action)?"
    r"|/v2/[^/]+/cloudvolumes/[^/]+)/?$"
)
# HMAC key used when the access key is unknown, so that case costs the same work as a bad signature.
_DUMMY_SECRET = "ecslite-unknown-access-key"


class AuthError(Exception):
    """Credentials missing or invalid; ``reason`` is for the log, never for the client."""

    def __init__(self, reason: str, *, access_key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.access_key = access_key


@dataclass(frozen=True)
class Identity:
    """An authenticated caller. ``project_id`` is the project the credential is bound to
    (token scope, or the SDK's ``X-Project-Id``); None when an AK/SK request names none (it may
    act in any project of its account) or for an unscoped token (it may act in none)."""

    user_id: str
    domain_id: str
    project_id: str | None
    method: str  # "aksk" | "token"
    access_key: str | None = None
    # The signature this request spent (replay refusal); released if the request is refused.
    spent_signature: str | None = None


@dataclass(frozen=True)
class Principal:
    """The caller acting inside one project (the project in the URL)."""

    project_id: str
    user_id: str
    domain_id: str


@dataclass
class ConnectionSignatures:
    """The signatures the requests of one client connection spent (the most recent ``KEEP``).

    Kept by the HTTP server with the connection and gone with it. A mutating request whose
    signature this connection already spent is the same client sending the same request again
    within X-Sdk-Date's second (HTTP/1.1 answers one request of a connection at a time, so it
    is never a concurrent copy); it is accepted as the public cloud would accept it.
    """

    KEEP = 32
    _spent: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def __contains__(self, signature: object) -> bool:
        return signature in self._spent

    def add(self, signature: str) -> None:
        self._spent[signature] = None
        self._spent.move_to_end(signature)
        while len(self._spent) > self.KEEP:
            self._spent.popitem(last=False)

    def discard(self, signature: str) -> None:
        self._spent.pop(signature, None)


@dataclass(frozen=True)
class IncomingRequest:
    """What the verifier needs from an HTTP request, independent of the web framework."""

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]  # lower-case names, in arrival order
    body: bytes
    # The signatures spent on the connection this request came over (None: not tracked,
    # e.g. in-process clients or a proxy whose upstream connections carry many clients).
    connection: ConnectionSignatures | None = None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator:
    def __init__(
        self,
        *,
        uow_factory: UowFactory,
        box: SecretBox,
        clock: Clock,
        max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
        refuse_replays: bool = False,
    ) -> None:
        self._uow_factory = uow_factory
        self._box = box
        # Decrypting a secret key costs ~0.1 ms; keep recent ones. Keyed by the sealed bytes read
        # from the store on every request, so a deleted key is refused at once in every process
        # (its row is gone) and a re-created one, sealed afresh, is never served a stale secret.
        self._open_secret = functools.lru_cache(maxsize=4096)(box.open)
        self._clock = clock
        self._max_skew = max_skew_seconds
        self._refuse_replays = refuse_replays

    def authenticate(self, req: IncomingRequest) -> Identity:
        """Return who sent ``req``; raise ``AuthError`` for missing or invalid credentials."""
        values: dict[str, list[str]] = {}
        for name, value in req.headers:
            values.setdefault(name, []).append(value)
        authorization = values.get("authorization")
        if authorization:
            return self._signed(req, values)
        token = values.get("x-auth-token")
        if token:
            if len(token) != 1:
                raise AuthError("several X-Auth-Token headers")
            return self._token(token[0])
        raise AuthError("no credentials")

    def _signed(self, req: IncomingRequest, values: dict[str, list[str]]) -> Identity:
        if len(values["authorization"]) != 1:
            raise AuthError("several Authorization headers")
        parsed = sig.parse_authorization(values["authorization"][0])
        if parsed is None:
            raise AuthError("malformed Authorization header")
        ak = parsed.access_key
        if any(h not in parsed.signed_headers for h in sig.REQUIRED_SIGNED):
            raise AuthError("host and x-sdk-date must be signed", access_key=ak)
        headers: dict[str, str] = {}
        for name in parsed.signed_headers:
            got = values.get(name)
            if got is None or len(got) != 1:
                raise AuthError(f"signed header {name} missing or repeated", access_key=ak)
            headers[name] = got[0]
        sdk_date = headers["x-sdk-date"].strip()
        when = sig.parse_date(sdk_date)
        if when is None:
            raise AuthError("malformed X-Sdk-Date", access_key=ak)
        skew = abs(self._clock.now() - when.timestamp())
        if skew > self._max_skew:
            raise AuthError(f"X-Sdk-Date skewed by {skew:.0f}s", access_key=ak)
        body_hash = sig.payload_hash(req.body)
        declared = values.get("x-sdk-content-sha256")
        # The SDK lets a client declare the payload hash (or UNSIGNED-PAYLOAD for non-JSON
        # bodies). Every body this API takes is JSON, so a declared hash must be the real one:
        # an unsigned payload would let a body be changed after signing.
        if req.body and declared is not None and declared != [body_hash]:
            raise AuthError("X-Sdk-Content-Sha256 does not match the body", access_key=ak)
        canonical = sig.canonical_request(
            method=req.method,
            raw_path=req.raw_path,
            query_string=req.query_string,
            headers=headers,
            signed_headers=parsed.signed_headers,
            body_hash=body_hash,
        )
        to_sign = sig.string_to_sign(sdk_date, canonical)
        with self._uow_factory(write=False) as uow:
            stored = uow.identity.access_key(ak)
            project = None
            project_header = values.get("x-project-id")
            if stored is not None and project_header:
                project = uow.catalog.project(project_header[0].strip())
        secret = self._open_secret(bytes(stored.secret_sealed)) if stored else _DUMMY_SECRET
        expected = sig.compute_signature(secret, to_sign)
        if not hmac.compare_digest(expected, parsed.signature) or stored is None:
            raise AuthError(
                "unknown access key" if stored is None else "signature mismatch", access_key=ak
            )
        if project_header is not None:
            if len(project_header) != 1 or project is None:
                raise AuthError("X-Project-Id names no project", access_key=ak)
            if project.domain_id != stored.user.domain_id:
                raise AuthError("X-Project-Id is outside the key's account", access_key=ak)
        if (
            self._refuse_replays
            and req.method.upper() in MUTATING_METHODS
            and not _idempotent_retry(req.raw_path, parsed.signed_headers)
        ):
            spent: str | None = self._first_use(
                parsed.signature, signed_at=when.timestamp(), access_key=ak, conn=req.connection
            )
        else:
            spent = None
        return Identity(
            user_id=stored.user.id,
            domain_id=stored.user.domain_id,
            project_id=project.id if project else None,
            method="aksk",
            access_key=ak,
            spent_signature=spent,
        )

    def _first_use(
        self,
        signature: str,
        *,
        signed_at: float,
        access_key: str,
        conn: ConnectionSignatures | None,
    ) -> str | None:
        """Refuse a signature seen before: it stays valid (for a replay) as long as its
        X-Sdk-Date is within the allowed skew, so it is remembered that long. Return the
        signature when this request spent it (it is released if the request is refused), None
        for a repeat on the connection that spent it (the first use keeps it spent)."""
        if conn is not None and signature in conn:
            return None
        with self._uow_factory() as uow:
            fresh = uow.identity.remember_signature(
                signature, expires_at=signed_at + self._max_skew, now=self._clock.now()
            )
            uow.commit()
        if not fresh:
            raise AuthError("replayed signature", access_key=access_key)
        if conn is not None:
            conn.add(signature)
        return signature

    def release(self, signature: str, conn: ConnectionSignatures | None = None) -> None:
        """Let ``signature`` be used again: its request was refused and changed nothing.

        A replay is refused so that one signed change cannot happen twice; a refused request
        made no change, and a client that retries it (409 in use, then again once the volume is
        free) must not be told it is not authenticated. Concurrent copies stay refused: the
        signature is held while the first copy runs.
        """
        if conn is not None:
            conn.discard(signature)
        with self._uow_factory() as uow:
            uow.identity.forget_signature(signature)
            uow.commit()

    def _token(self, token: str) -> Identity:
        with self._uow_factory(write=False) as uow:
            stored = uow.identity.token(token_digest(token.strip()))
        if stored is None:
            raise AuthError("unknown token")
        if stored.expires_at <= self._clock.now():
            raise AuthError("expired token")
        return Identity(
            user_id=stored.user.id,
            domain_id=stored.user.domain_id,
            project_id=stored.project_id,
            method="token",
        )

    def scope(self, identity: Identity, project_id: str) -> Principal | None:
        """Return the principal acting in ``project_id``, or None if the credential does not
        cover that project (another account's project, or one that does not exist)."""
        if identity.project_id is not None:
            if identity.project_id != project_id:
                return None
        elif identity.method == "token":
            return None  # an unscoped token acts in no project
        else:
            with self._uow_factory(write=False) as uow:
                project = uow.catalog.project(project_id)
            if project is None or project.domain_id != identity.domain_id:
                return None
        return Principal(
            project_id=project_id, user_id=identity.user_id, domain_id=identity.domain_id
        )

    def names(self, principal: Principal) -> tuple[str, str] | None:
        """The principal's user name and project name (for a page header), or None if gone."""
        with self._uow_factory(write=False) as uow:
            user = uow.identity.user(principal.user_id)
            project = uow.catalog.project(principal.project_id)
        if user is None or project is None:
            return None
        return user.name, project.name

    def revoke(self, token: str) -> None:
        """Forget ``token`` (a logout); later requests with it are refused."""
        with self._uow_factory() as uow:
            uow.identity.delete_token(token_digest(token))
            uow.commit()


def utc_iso(ts: float) -> str:
    """Keystone's timestamp format: ``2026-11-27T15:10:26.000000Z``."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _idempotent_retry(raw_path: str, signed_headers: tuple[str, ...]) -> bool:
    """A signed X-Client-Token on a route that answers a repeat with its first answer."""
    return "x-client-token" in signed_headers and IDEMPOTENT_PATHS.match(raw_path) is not None
