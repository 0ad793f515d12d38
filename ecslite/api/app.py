"""Build the FastAPI application around a container."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request, Response

from ecslite import __version__
from ecslite.api.errors import install_error_handlers
from ecslite.api.routes import admin, console, jobs, keypairs, reinstall, servers
from ecslite.bootstrap import Container
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument

log = logging.getLogger("ecslite.access")


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
    install_error_handlers(app)
    for r in (reinstall.router, jobs.router, servers.router, keypairs.router, console.router):
        app.include_router(r)
    if enable_admin:
        app.include_router(admin.router)

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
