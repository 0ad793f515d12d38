"""Who is calling: the one seam where a request's principal is resolved.

Authentication is not enforced yet. A request is attributed to the project in its path; when it
carries an SDK signature (``Authorization: SDK-HMAC-SHA256 Access=AK, ...``) whose access key
is known, the key's user is the caller, otherwise the project's first user is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request

from ecslite.store.uow import UowFactory

_ACCESS = re.compile(r"Access=([A-Za-z0-9]+)")


@dataclass(frozen=True)
class Principal:
    project_id: str
    user_id: str | None
    domain_id: str | None


def resolve_principal(request: Request, project_id: str, uow_factory: UowFactory) -> Principal:
    auth = request.headers.get("authorization", "")
    match = _ACCESS.search(auth)
    with uow_factory(write=False) as uow:
        project = uow.catalog.project(project_id)
        if project is None:
            return Principal(project_id=project_id, user_id=None, domain_id=None)
        user = uow.catalog.user_for_access_key(match.group(1)) if match else None
        if user is None or user.domain_id != project.domain_id:
            user = uow.catalog.first_user_of_domain(project.domain_id)
    return Principal(
        project_id=project_id, user_id=user.id if user else None, domain_id=project.domain_id
    )
