"""POST /v3/auth/tokens: Keystone v3 password login, project-scoped or unscoped
(IAM-compatible subset).

The token travels only in the ``X-Subject-Token`` response header; the body describes it. The
same body answers ``GET /v3/auth/tokens`` (api/routes/identity.py).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from ecslite.api.body import parse_body
from ecslite.api.deps import container
from ecslite.api.envelopes import refusal
from ecslite.api.login import LoginRefused, password_login
from ecslite.api.openapi import json_body
from ecslite.auth.authenticator import AuthError, utc_iso
from ecslite.auth.keystone import IssuedToken, PasswordLogin
from ecslite.domain import errors

log = logging.getLogger("ecslite.auth")
router = APIRouter()


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DomainRef(_Loose):
    id: StrictStr | None = None
    name: StrictStr | None = None


class UserRef(_Loose):
    id: StrictStr | None = None
    name: StrictStr | None = None
    password: StrictStr = Field(repr=False)
    domain: DomainRef | None = None


class PasswordMethod(_Loose):
    user: UserRef


class IdentityRef(_Loose):
    methods: list[Literal["password"]] = Field(min_length=1)
    password: PasswordMethod


class ProjectRef(_Loose):
    id: StrictStr | None = None
    name: StrictStr | None = None
    domain: DomainRef | None = None


class ScopeRef(_Loose):
    project: ProjectRef | None = None


class AuthRef(_Loose):
    identity: IdentityRef
    scope: ScopeRef | None = None


class TokenRequest(_Loose):
    auth: AuthRef


@router.post(
    "/v3/auth/tokens",
    status_code=201,
    openapi_extra=json_body(TokenRequest),
)
async def create_token(request: Request) -> JSONResponse:
    body = await parse_body(request, TokenRequest)
    user = body.auth.identity.password.user
    project = body.auth.scope.project if body.auth.scope else None
    login = PasswordLogin(
        password=user.password,
        user_id=user.id,
        user_name=user.name,
        user_domain_id=user.domain.id if user.domain else None,
        user_domain_name=user.domain.name if user.domain else None,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
    )
    c = container(request)
    try:
        issued = await password_login(request, login)
    except LoginRefused as exc:
        return refusal(
            request.url.path,
            errors.EcsError(errors.TOO_MANY_REQUESTS),
            retry_after=exc.retry_after,
            request_id=getattr(request.state, "request_id", None),
        )
    except AuthError:
        raise errors.EcsError(errors.UNAUTHORIZED) from None
    return JSONResponse(
        status_code=201,
        content=token_body(issued, str(request.base_url).rstrip("/"), c.settings.region),
        headers={"X-Subject-Token": issued.token},
    )


# Every user may act in every project of its account; these are the role names Keystone's
# default policies and clients (Tempest's credentials among them) look for in such a token.
ROLES = ({"id": "member", "name": "member"}, {"id": "reader", "name": "reader"})


def audit_id(token: str) -> str:
    """A stable public id of ``token`` for audit records (a digest: it gives nothing away)."""
    digest = hashlib.sha256(b"audit:" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def token_body(
    t: IssuedToken, base_url: str, region: str, *, with_catalog: bool = True
) -> dict[str, Any]:
    domain = {"id": t.domain.id, "name": t.domain.name}
    token: dict[str, Any] = {
        "methods": ["password"],
        "issued_at": utc_iso(t.issued_at),
        "expires_at": utc_iso(t.expires_at),
        "audit_ids": [audit_id(t.token)],
        "user": {
            "id": t.user.id,
            "name": t.user.name,
            "domain": domain,
            "password_expires_at": None,
        },
    }
    if t.project is not None and t.project_domain is not None:
        token["project"] = {
            "id": t.project.id,
            "name": t.project.name,
            "domain": {"id": t.project_domain.id, "name": t.project_domain.name},
        }
        token["is_domain"] = False
        token["roles"] = list(ROLES)
        if with_catalog:
            token["catalog"] = catalog(base_url, t.project.id, t.project.region or region)
    return {"token": token}


def catalog(base_url: str, project_id: str, region: str) -> list[dict[str, Any]]:
    """The services an OpenStack client looks up: identity, compute, image, and ECS itself."""
    services = (
        ("identity", "keystone", f"{base_url}/v3"),
        ("compute", "nova", f"{base_url}/compute/v2.1/{project_id}"),
        ("image", "glance", f"{base_url}/image"),
        ("ecs", "ecs", f"{base_url}/v1/{project_id}"),
    )
    return [
        {
            "id": kind,
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": f"{kind}-{region}",
                    "interface": "public",
                    "region": region,
                    "region_id": region,
                    "url": url,
                }
            ],
        }
        for kind, name, url in services
    ]
