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

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from ecslite.auth.authenticator import Authenticator, AuthError, IncomingRequest, Principal
from ecslite.domain import errors
from ecslite.services.facade import Services

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


def services(request: Request) -> Services:
    """The operations facade and the read side: all the console acts on."""
    s: Services = request.app.state.container.services
    return s


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
    names = authenticator.names(principal)
    if names is None:
        return None
    return Session(token, principal, *names)


async def scope_project(scope: Scope, authenticator: Authenticator) -> str | None:
    """The project of a raw request's session cookie, or None (no valid session).

    Read before the console's own routes run: the API counts a console event stream against
    its project's stream budget (api/admission.py) like an API stream.
    """
    cookies: SimpleCookie = SimpleCookie()
    for name, value in scope["headers"]:
        if name == b"cookie":
            with contextlib.suppress(CookieError):
                cookies.load(value.decode("latin-1"))
    morsel = cookies.get(SESSION_COOKIE)
    if morsel is None or not morsel.value:
        return None
    req = IncomingRequest(
        method="GET",
        raw_path=scope["path"],
        query_string="",
        headers=[("x-auth-token", morsel.value)],
        body=b"",
    )
    try:
        identity = await run_in_threadpool(authenticator.authenticate, req)
    except AuthError:
        return None
    return identity.project_id


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
