"""The web console: server list kept live from the event stream; Reinstall OS, Change OS, Create
and Delete dialogs with live job steps; key pairs; jobs.

Server-rendered Jinja2 pages plus one hand-written ES module (static/console.js), all shipped in
the package: no CDN, no Node build, nothing fetched at run time. ``install_console`` is the one
call the serving process makes (``CONSOLE``, mounted by cli/serve); the console authenticates its
own requests from a session cookie (console/session.py), so the API's guard lets ``/console``
through.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from ecslite.auth.authenticator import Authenticator
from ecslite.console import api, pages, remote
from ecslite.console.session import PREFIX, scope_project

__all__ = ["CONSOLE", "PREFIX", "install_console", "is_console_path"]


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class BrowserRootRedirect:
    """Send a browser asking for ``/`` (``Accept: text/html``) to the console.

    Only browsers: an API client's ``GET /`` (JSON, e.g. a version document) passes through
    untouched to whatever route serves it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/"
            and scope["method"] in ("GET", "HEAD")
            and _wants_html(scope)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", PREFIX.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def _wants_html(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name.lower() == b"accept":
            return b"text/html" in value.lower()
    return False


def install_console(app: FastAPI) -> None:
    """Serve the console under /console and redirect browsers from /."""
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(remote.router)
    app.add_middleware(BrowserRootRedirect)


class _Console:
    """The console as a door the API app mounts (api.app.Mount)."""

    def install(self, app: FastAPI) -> None:
        install_console(app)

    def is_public(self, path: str) -> bool:
        return is_console_path(path)

    async def session_project(self, scope: Scope, authenticator: Authenticator) -> str | None:
        return await scope_project(scope, authenticator)


CONSOLE = _Console()
