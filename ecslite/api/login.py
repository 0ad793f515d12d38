"""Password logins under the abuse limits: every way in (the API's token route, the console's
login form) verifies passwords on the same bounded pool and counts failures in the same
throttle, so no login path is cheaper to flood than another (docs/reliability.md)."""

from __future__ import annotations

import logging

from fastapi import Request

from ecslite.api.admission import BoundedPool, Busy
from ecslite.api.deps import container
from ecslite.auth.authenticator import AuthError
from ecslite.auth.keystone import IssuedToken, PasswordLogin
from ecslite.auth.login_throttle import LoginAttempt, LoginThrottle, Throttled

log = logging.getLogger("ecslite.auth")


class LoginRefused(Exception):
    """Throttled or over the pool's queue: answer 429 with ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("login refused")
        self.retry_after = retry_after


async def password_login(request: Request, login: PasswordLogin) -> IssuedToken:
    """Verify ``login`` and issue a token. Raises LoginRefused, or AuthError when wrong."""
    c = container(request)
    attempt = login_attempt(request, login)
    throttle: LoginThrottle = request.app.state.login_throttle
    pool: BoundedPool = request.app.state.login_pool
    try:
        throttle.check(attempt)
        # Its own few threads and a short queue: a login flood cannot take the threads and
        # memory the rest of the API needs.
        issued = await pool.run(
            c.services.accounts.issue_token, login, ttl_seconds=c.settings.token_ttl_seconds
        )
    except (Throttled, Busy) as exc:
        why = "throttled" if isinstance(exc, Throttled) else "busy"
        log.warning("token refused reason=%s user_ref=%s", why, attempt.user_key)
        raise LoginRefused(exc.retry_after) from None
    except AuthError as exc:
        throttle.failed(attempt)
        log.warning("token refused reason=%s user_ref=%s", exc.reason, attempt.user_key)
        raise
    log.info(
        "token issued user_id=%s project_id=%s",
        issued.user.id,
        issued.project.id if issued.project else "-",
    )
    return issued


def login_attempt(request: Request, login: PasswordLogin) -> LoginAttempt:
    """Who is trying: the client address, and a keyed digest of the user field and domain.

    The user field may hold anything, a mistyped password included, so only the digest is
    kept or logged: it matches across attempts but reveals nothing."""
    who = "\n".join(
        v or ""
        for v in (login.user_domain_id, login.user_domain_name, login.user_id, login.user_name)
    )
    digest = request.app.state.secret_box.fingerprint(who.encode("utf-8", "surrogatepass"))
    source = request.client.host if request.client else "-"
    return LoginAttempt(source=source, user_key=digest[:16])
