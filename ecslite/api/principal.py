"""Who is calling: the one seam where a request's principal is resolved.

``AuthGuard`` (api/guard.py) authenticates every non-public request and leaves an ``Identity``
in the request state. ``project_scope`` — a dependency on every ECS router — binds it to the
project in the URL: the credential must cover that project (the token's scope, or the SDK's
``X-Project-Id``, or for AK/SK without that header a project of the key's account), otherwise
the documented mismatch error. Routes then call ``resolve_principal``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from ecslite.auth.authenticator import Authenticator, Identity, Principal
from ecslite.domain import errors

__all__ = ["Principal", "project_scope", "resolve_principal"]


def project_scope(mismatch: errors.ErrorSpec) -> Callable[[Request], None]:
    """Return a dependency that sets ``request.state.principal`` or raises ``mismatch``."""

    def dependency(request: Request) -> None:
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:
            raise errors.EcsError(errors.UNAUTHORIZED)
        project_id = request.path_params.get("project_id")
        if project_id is None:
            raise errors.EcsError(errors.FORBIDDEN)
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.scope(identity, project_id)
        if principal is None:
            raise errors.EcsError(mismatch)
        request.state.principal = principal

    return dependency


def resolve_principal(request: Request, project_id: str) -> Principal:
    """Return the principal ``project_scope`` bound to this request's project."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.project_id != project_id:
        raise errors.EcsError(errors.UNAUTHORIZED)
    return principal
