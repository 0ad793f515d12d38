"""Keystone v3 reads and revocation around a token: validate (``GET``/``HEAD /v3/auth/tokens``
with ``X-Subject-Token``), revoke (``DELETE``), the token's catalog, and the projects and
domains a user may scope to.

``/v3/auth/tokens`` itself is served without the credential guard (``POST`` is the login), so
these methods check the caller's ``X-Auth-Token`` here. A revoked token's row is deleted, so
every route — ECS, Nova, Glance, these — refuses it from then on, in every process sharing the
store. An unknown, expired or revoked subject token answers 404, as in Keystone.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ecslite.api.deps import container
from ecslite.api.routes.tokens import catalog, token_body
from ecslite.auth.keystone import IssuedToken
from ecslite.domain import errors

router = APIRouter(include_in_schema=False)

_TOKEN_QUERY = frozenset({"nocatalog"})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _read(request: Request, token: str | None) -> IssuedToken | None:
    if not token:
        return None
    return container(request).services.accounts.read_token(token)


def _caller(request: Request) -> IssuedToken:
    """The token in ``X-Auth-Token``; 401 when it is missing or no longer valid."""
    caller = _read(request, request.headers.get("x-auth-token"))
    if caller is None:
        raise errors.EcsError(errors.UNAUTHORIZED)
    return caller


def _subject(request: Request) -> IssuedToken:
    _caller(request)
    raw = request.headers.get("x-subject-token")
    if not raw:
        raise errors.EcsError(errors.INVALID_PARAMETER, "X-Subject-Token is required.")
    for name in request.query_params:
        if name not in _TOKEN_QUERY:
            raise errors.EcsError(errors.INVALID_PARAMETER, f"Unsupported parameter {name!r}.")
    subject = _read(request, raw)
    if subject is None:
        raise errors.EcsError(errors.NOT_FOUND, "Could not find token.")
    return subject


def _nocatalog(request: Request) -> bool:
    value = request.query_params.get("nocatalog")
    return value is not None and value.lower() not in ("0", "false", "no")


@router.get("/v3/auth/tokens")
def validate_token(request: Request) -> JSONResponse:
    subject = _subject(request)
    body = token_body(
        subject,
        _base(request),
        container(request).settings.region,
        with_catalog=not _nocatalog(request),
    )
    return JSONResponse(body, headers={"X-Subject-Token": subject.token})


@router.head("/v3/auth/tokens")
def check_token(request: Request) -> Response:
    subject = _subject(request)
    return Response(status_code=200, headers={"X-Subject-Token": subject.token})


@router.delete("/v3/auth/tokens")
async def revoke_token(request: Request) -> Response:
    subject = await run_in_threadpool(_subject, request)
    await run_in_threadpool(request.app.state.authenticator.revoke, subject.token)
    return Response(status_code=204)


def _links(request: Request) -> dict[str, Any]:
    return {"self": str(request.url), "previous": None, "next": None}


@router.get("/v3/auth/catalog")
def auth_catalog(request: Request) -> dict[str, Any]:
    caller = _caller(request)
    if caller.project is None:
        raise errors.EcsError(errors.FORBIDDEN, "A project-scoped token is required.")
    region = caller.project.region or container(request).settings.region
    return {"catalog": catalog(_base(request), caller.project.id, region), "links": _links(request)}


def _projects(request: Request, caller: IssuedToken) -> dict[str, Any]:
    _, projects = container(request).services.accounts.user_scopes(caller.user)
    base = _base(request)
    return {
        "projects": [
            {
                "id": p.id,
                "name": p.name,
                "domain_id": p.domain_id,
                "description": "",
                "enabled": True,
                "is_domain": False,
                "parent_id": p.domain_id,
                "tags": [],
                "links": {"self": f"{base}/v3/projects/{p.id}"},
            }
            for p in projects
        ],
        "links": _links(request),
    }


@router.get("/v3/auth/projects")
def auth_projects(request: Request) -> dict[str, Any]:
    return _projects(request, _caller(request))


@router.get("/v3/users/{user_id}/projects")
def user_projects(user_id: str, request: Request) -> dict[str, Any]:
    caller = _caller(request)
    if caller.user.id != user_id:
        # Keystone's default policy: a user lists only their own projects.
        raise errors.EcsError(errors.FORBIDDEN)
    return _projects(request, caller)


@router.get("/v3/auth/domains")
def auth_domains(request: Request) -> dict[str, Any]:
    caller = _caller(request)
    base = _base(request)
    return {
        "domains": [
            {
                "id": caller.domain.id,
                "name": caller.domain.name,
                "description": "",
                "enabled": True,
                "tags": [],
                "links": {"self": f"{base}/v3/domains/{caller.domain.id}"},
            }
        ],
        "links": _links(request),
    }
