"""Request-scoped accessors shared by the routes."""

from __future__ import annotations

from fastapi import Request

from ecslite.api.principal import Principal, resolve_principal
from ecslite.services.facade import Services
from ecslite.services.runtime import Container


def container(request: Request) -> Container:
    """The process's runtime: only the wiring and the auth routes (login, tokens) need it."""
    c: Container = request.app.state.container
    return c


def services(request: Request) -> Services:
    """What a route may use: the operations facade and the read side."""
    s: Services = request.app.state.container.services
    return s


def principal(request: Request, project_id: str) -> Principal:
    return resolve_principal(request, project_id)
