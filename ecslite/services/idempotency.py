"""X-Client-Token: a retried request returns the job its first attempt created.

The token is looked up and recorded inside the same transaction that accepts the request, so a
token names at most one job. A token reused with a different request is refused (409); tokens
are kept for ``Settings.client_token_retention_seconds`` (at least 24 hours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from ecslite.domain import errors
from ecslite.store.uow import UnitOfWork, UowFactory

_TOKEN = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


@dataclass(frozen=True)
class ClientToken:
    token: str
    fingerprint: str  # keyed digest of the request (method, path, body)

    @staticmethod
    def parse(raw: str | None, fingerprint: str) -> ClientToken | None:
        if raw is None:
            return None
        if not _TOKEN.match(raw):
            raise errors.EcsError(
                errors.INVALID_PARAMETER,
                "X-Client-Token must be 1-64 characters of letters, digits and . _ : -",
            )
        return ClientToken(token=raw, fingerprint=fingerprint)


def replay(uow: UnitOfWork, project_id: str, ct: ClientToken | None) -> str | None:
    """Return the job an earlier request with this token created, if any."""
    if ct is None:
        return None
    found = uow.client_tokens.get(project_id, ct.token)
    if found is None:
        return None
    fingerprint, job_id = found
    if fingerprint != ct.fingerprint:
        raise errors.EcsError(errors.CLIENT_TOKEN_CONFLICT)
    return job_id


def remember(
    uow: UnitOfWork, project_id: str, ct: ClientToken | None, job_id: str, now: float
) -> None:
    if ct is not None:
        uow.client_tokens.add(
            project_id=project_id,
            token=ct.token,
            fingerprint=ct.fingerprint,
            job_id=job_id,
            now=now,
        )


def accept_once(
    uow_factory: UowFactory, project_id: str, ct: ClientToken | None, accept: Callable[[], str]
) -> str:
    """Run ``accept``; if it loses a race to a request with the same token, return that job."""
    try:
        return accept()
    except (errors.EcsError, IntegrityError):
        if ct is None:
            raise
        with uow_factory(write=False) as uow:
            job_id = replay(uow, project_id, ct)
        if job_id is None:
            raise
        return job_id
