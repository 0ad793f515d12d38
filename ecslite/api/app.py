"""Build the FastAPI application around a container.

Other front doors served by the same process (the web console) are mounted by the caller
(``cli/serve``) as ``Mount``s: the API does not know them, it only lets their paths through its
credential guard.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from fastapi import Depends, FastAPI
from starlette.types import Scope

from ecslite import __version__
from ecslite.api.access_log import AccessLog
from ecslite.api.admission import AdmissionGate, BoundedPool, StreamBudget, StreamGate
from ecslite.api.asgi_body import BodyReader
from ecslite.api.errors import install_error_handlers
from ecslite.api.guard import AuthGuard
from ecslite.api.inputgate import InputGate
from ecslite.api.monitor import Monitor
from ecslite.api.nova.microversion import microversion
from ecslite.api.openapi import install_openapi
from ecslite.api.openstack_headers import OpenStackHeaders
from ecslite.api.principal import project_scope
from ecslite.api.routes import (
    admin,
    catalog,
    console,
    discovery,
    events,
    glance,
    glance_writes,
    identity,
    jobs,
    keypairs,
    lifecycle,
    nova_catalog,
    nova_instance_actions,
    nova_reads,
    nova_server_ips,
    nova_server_metadata,
    nova_server_tags,
    nova_server_writes,
    nova_servers,
    password,
    reinstall,
    remote_console,
    servers,
    tokens,
    volumes,
)
from ecslite.auth.authenticator import Authenticator
from ecslite.auth.login_throttle import LoginThrottle
from ecslite.domain import errors
from ecslite.services.runtime import Container
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument


class Mount(Protocol):
    """Another door served by the API's process, with its own authentication."""

    def install(self, app: FastAPI) -> None:
        """Add its routes and middleware to ``app``."""

    def is_public(self, path: str) -> bool:
        """Whether ``path`` is this door's (the API's credential guard lets it through)."""

    async def session_project(self, scope: Scope, authenticator: Authenticator) -> str | None:
        """The project of this door's authenticated caller, or None (for stream budgets)."""


ADMIN_PREFIX = "/_ecslite/admin"
_PUBLIC_PATHS = frozenset(
    {"/v3/auth/tokens", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# Version documents are read before login (keystoneauth's discovery): the root, any bare
# version ("/v3", "/v2.1/"; unknown ones answer 404, not 401) and the image service's root.
_DISCOVERY_PATH = re.compile(r"^/((v[0-9]+(\.[0-9]+)?|image|compute)/?)?$")


def _public(enable_admin: bool, mounts: Sequence[Mount]) -> Callable[[str], bool]:
    """Paths served without API credentials: login, API docs, the mounted doors (they check
    their own), and the admin API when enabled."""

    def public(path: str) -> bool:
        if path in _PUBLIC_PATHS or _DISCOVERY_PATH.match(path):
            return True
        if any(m.is_public(path) for m in mounts):
            return True
        return enable_admin and (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"))

    return public


def _session_project(
    authenticator: Authenticator, mounts: Sequence[Mount]
) -> Callable[[Scope], Awaitable[str | None]]:
    """The project of a mounted door's caller (the console's session), or None."""

    async def project(scope: Scope) -> str | None:
        for mount in mounts:
            if mount.is_public(scope["path"]):
                return await mount.session_project(scope, authenticator)
        return None

    return project


def create_app(
    container: Container,
    *,
    secret_box: SecretBox,
    enable_admin: bool = False,
    reset_seeds: Sequence[SeedDocument] = (),
    mounts: Sequence[Mount] = (),
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
        refuse_replays=settings.refuse_replayed_signatures,
    )
    app.state.authenticator = authenticator
    app.state.login_pool = BoundedPool(
        "login", workers=settings.login_workers, queue=settings.login_queue, nice=10
    )
    app.state.keygen_pool = BoundedPool(
        "keygen", workers=settings.keygen_workers, queue=settings.keygen_queue, nice=10
    )
    app.state.login_throttle = LoginThrottle(
        per_source=settings.login_failures_per_source, per_user=settings.login_failures_per_user
    )
    install_error_handlers(app)
    install_openapi(app)
    # Every ECS route acts in the project of its URL; the credential must cover it.
    ecs_scope = [Depends(project_scope(errors.PROJECT_MISMATCH))]
    # catalog before servers: /cloudservers/flavors must not be read as a server id.
    for r in (
        reinstall.router,
        password.router,
        remote_console.router,
        catalog.router,
        lifecycle.router,
        servers.router,
        console.router,
    ):
        app.include_router(r, dependencies=ecs_scope)
    # Nova's routes act in the URL's project too, at the microversion the request names.
    app.include_router(nova_servers.router, dependencies=[*ecs_scope, Depends(microversion)])
    nova_scope = [*ecs_scope, Depends(microversion)]
    app.include_router(nova_server_writes.router, dependencies=nova_scope)
    app.include_router(nova_instance_actions.router, dependencies=nova_scope)
    app.include_router(nova_server_metadata.router, dependencies=nova_scope)
    app.include_router(nova_server_tags.router, dependencies=nova_scope)
    app.include_router(nova_server_ips.router, dependencies=nova_scope)
    app.include_router(nova_catalog.router, dependencies=[*ecs_scope, Depends(microversion)])
    app.include_router(remote_console.nova_router, dependencies=[*ecs_scope, Depends(microversion)])
    app.include_router(keypairs.router, dependencies=[*ecs_scope, Depends(microversion)])
    app.include_router(nova_reads.router, dependencies=[*ecs_scope, Depends(microversion)])
    # Glance's paths carry no project: the credential's own project is the scope.
    app.include_router(glance.router)
    app.include_router(glance_writes.router)
    app.include_router(discovery.router)
    app.include_router(catalog.ims_router)
    common_scope = [Depends(project_scope(errors.PROJECT_MISMATCH_COMMON))]
    app.include_router(jobs.router, dependencies=common_scope)
    # EVS: the same project check, with the code EVS documents for it (Common.0018).
    app.include_router(volumes.router, dependencies=common_scope)
    app.include_router(events.router, dependencies=common_scope)
    app.include_router(tokens.router)
    app.include_router(identity.router)
    if enable_admin:
        app.include_router(admin.router)
    # Added first, so it runs after AuthGuard: the body is capped and buffered by then.
    app.add_middleware(InputGate)
    # After AuthGuard: a stream counts for its project; outside the admission gate's slots.
    streams = StreamBudget(per_project=settings.max_streams_per_project, total=settings.max_streams)
    app.state.streams = streams
    app.add_middleware(
        StreamGate, budget=streams, session_project=_session_project(authenticator, mounts)
    )
    app.add_middleware(
        AuthGuard,
        authenticator=authenticator,
        public=_public(enable_admin, mounts),
        max_body=settings.max_body_bytes,
    )
    # Outside AuthGuard: a request beyond the queue costs no authentication work.
    app.add_middleware(
        AdmissionGate,
        max_in_flight=settings.max_in_flight,
        max_queued=settings.max_queued,
        max_wait=settings.max_queue_wait_seconds,
        streams=streams,
    )
    # Outside the admission gate: a request takes a slot only once its body is in.
    app.add_middleware(
        BodyReader,
        max_body=settings.max_body_bytes,
        max_per_source=settings.max_body_senders_per_source,
    )

    # Inside the access log (its request id is the OpenStack one), outside every refusal.
    app.add_middleware(OpenStackHeaders)
    # Outermost: every request is logged once, refusals included.
    app.add_middleware(AccessLog)
    # Outside everything: health answers and request metrics see every request (api/monitor).
    app.add_middleware(
        Monitor,
        monitoring=container.monitoring,
        metrics_token=settings.metrics_token,
        readiness_timeout=settings.readiness_timeout,
    )

    for mount in mounts:
        mount.install(app)
    return app
