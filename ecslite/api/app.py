"""Build the FastAPI application around a container."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Depends, FastAPI, Request, Response

from ecslite import __version__
from ecslite.api.errors import install_error_handlers
from ecslite.api.guard import AuthGuard
from ecslite.api.openapi import install_openapi
from ecslite.api.principal import project_scope
from ecslite.api.routes import (
    admin,
    catalog,
    console,
    jobs,
    keypairs,
    lifecycle,
    reinstall,
    servers,
    tokens,
)
from ecslite.auth.authenticator import Authenticator
from ecslite.bootstrap import Container
from ecslite.domain import errors
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument

log = logging.getLogger("ecslite.access")

ADMIN_PREFIX = "/_ecslite/admin"
_PUBLIC_PATHS = frozenset(
    {"/v3/auth/tokens", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)


def _public(enable_admin: bool) -> Callable[[str], bool]:
    """Paths served without credentials: login, API docs, and the admin API when enabled."""

    def public(path: str) -> bool:
        if path in _PUBLIC_PATHS:
            return True
        return enable_admin and (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"))

    return public


def create_app(
    container: Container,
    *,
    secret_box: SecretBox,
    enable_admin: bool = False,
    reset_seeds: Sequence[SeedDocument] = (),
) -> FastAPI:
    app = FastAPI(
        title="ecslite",
        version=__version__,
        description="Elastic Cloud Server API: reinstall a server's OS from its cloud-init image.",
    )
    app.state.container = container
    app.state.secret_box = secret_box
    app.state.reset_seeds = list(reset_seeds)
    settings = container.settings
    authenticator = Authenticator(
        uow_factory=container.uow_factory,
        box=secret_box,
        clock=container.clock,
        max_skew_seconds=settings.max_clock_skew_seconds,
    )
    app.state.authenticator = authenticator
    install_error_handlers(app)
    install_openapi(app)
    # Every ECS route acts in the project of its URL; the credential must cover it.
    ecs_scope = [Depends(project_scope(errors.PROJECT_MISMATCH))]
    # catalog before servers: /cloudservers/flavors must not be read as a server id.
    for r in (
        reinstall.router,
        catalog.router,
        lifecycle.router,
        servers.router,
        keypairs.router,
        console.router,
    ):
        app.include_router(r, dependencies=ecs_scope)
    app.include_router(catalog.ims_router)
    app.include_router(
        jobs.router, dependencies=[Depends(project_scope(errors.PROJECT_MISMATCH_COMMON))]
    )
    app.include_router(tokens.router)
    if enable_admin:
        app.include_router(admin.router)
    app.add_middleware(
        AuthGuard,
        authenticator=authenticator,
        public=_public(enable_admin),
        max_body=settings.max_body_bytes,
    )

    @app.middleware("http")
    async def _request_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request method=%s path=%s status=%d duration_ms=%.1f request_id=%s",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - start) * 1000,
            request_id,
        )
        return response

    return app
