"""The console's session: a Keystone token in a cookie, and the CSRF token derived from it.

Login goes through the same ``issue_token`` as ``POST /v3/auth/tokens``, so the console knows the
same users and its sessions are ordinary project-scoped tokens (revoked on logout, expiring with
the token TTL). The cookie is HttpOnly (no script can read the token) and SameSite=Strict (no
other site's page can make the browser send it). Every mutation must also carry a CSRF token:
an HMAC of the session token, so it is unguessable without the token, needs no server-side
state and is valid in every API process of a scaled-out deployment. The login form, which has
no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ecslite.auth.authenticator import Authenticator, AuthError, IncomingRequest, Principal
from ecslite.bootstrap import Container
from ecslite.domain import errors

SESSION_COOKIE = "ecslite_console"
LOGIN_CSRF_COOKIE = "ecslite_console_login"
CSRF_HEADER = "x-csrf-token"
PREFIX = "/console"


@dataclass(frozen=True)
class Session:
    """A logged-in console user acting in the one project of their token."""

    token: str
    principal: Principal
    user_name: str
    project_name: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"ecslite-console-csrf", hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def _resolve(request: Request, token: str) -> Session | None:
    authenticator: Authenticator = request.app.state.authenticator
    req = IncomingRequest(
        method=request.method,
        raw_path=request.url.path,
        query_string="",
        headers=[("x-auth-token", token)],
        body=b"",
    )
    try:
        identity = authenticator.authenticate(req)
    except AuthError:
        return None
    if identity.project_id is None:
        return None
    principal = authenticator.scope(identity, identity.project_id)
    if principal is None:
        return None
    with container(request).uow_factory(write=False) as uow:
        user = uow.identity.user(principal.user_id)
        project = uow.catalog.project(principal.project_id)
    if user is None or project is None:
        return None
    return Session(token, principal, user.name, project.name)


async def current_session(request: Request) -> Session | None:
    """Return the session of the request's cookie, or None (no cookie, unknown or expired)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(_resolve, request, token)


def check_csrf(session: Session, presented: str | None) -> None:
    """Refuse a mutation whose CSRF token is missing or not this session's."""
    if not presented or not hmac.compare_digest(presented, session.csrf):
        raise errors.EcsError(errors.FORBIDDEN, "Missing or wrong CSRF token.")
