"""Request-scoped accessors shared by the routes."""

from __future__ import annotations

from fastapi import Request

from ecslite.api.principal import Principal, resolve_principal
from ecslite.bootstrap import Container


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def principal(request: Request, project_id: str) -> Principal:
    return resolve_principal(request, project_id)
