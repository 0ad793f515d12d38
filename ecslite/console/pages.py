"""The console's HTML pages and its login/logout forms, under /console.

Pages are rendered on the server from the same data the console's JSON endpoints serve; the
parts that change while a user watches (server rows, job steps) are embedded as JSON and kept
current by static/console.js. A request without a valid session cookie is sent to the login
page; nothing here ever takes a project id from the URL — the session's token decides it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from ecslite.api.login import LoginRefused, password_login
from ecslite.auth.authenticator import Authenticator, AuthError
from ecslite.auth.keystone import PasswordLogin
from ecslite.console import actions
from ecslite.console.session import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    Session,
    check_csrf,
    current_session,
    new_login_csrf,
    services,
)
from ecslite.domain import errors

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# No script, style or frame from anywhere else; no inline script (data travels as JSON blocks).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _json_block(value: Any) -> Markup:
    """JSON safe to place inside <script type="application/json">."""
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped above for the script-data context


templates.env.filters["json_block"] = _json_block


def _page(request: Request, name: str, session: Session | None, **ctx: Any) -> HTMLResponse:
    resp = templates.TemplateResponse(
        request, name, {"session": session, "prefix": PREFIX, **ctx}, headers=SECURITY_HEADERS
    )
    return resp


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


STATIC = Path(__file__).parent / "static"
# The two assets the pages load; anything else under /static is a 404 (no directory to walk).
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}


@router.get("/static/{name}")
def static_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise errors.EcsError(errors.NOT_FOUND)
    return FileResponse(
        STATIC / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/login")
async def login_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(PREFIX, status_code=303)
    return _login_form(request, error=None, values={})


def _login_form(
    request: Request, *, error: str | None, values: dict[str, str], status: int = 200
) -> Response:
    csrf = new_login_csrf()
    resp = _page(request, "login.html", None, csrf=csrf, error=error, values=values)
    resp.status_code = status
    resp.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", path=f"{PREFIX}/login"
    )
    return resp


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "").strip() for k in ("user", "domain", "project")}
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or form.get("csrf") != expected:
        return _login_form(
            request, error="The form expired; please try again.", values=values, status=403
        )
    if not all(values.values()) or not form.get("password"):
        return _login_form(
            request, error="All four fields are required.", values=values, status=400
        )
    login = PasswordLogin(
        password=form["password"],
        user_name=values["user"],
        user_domain_name=values["domain"],
        project_name=values["project"],
    )
    try:
        # The API's own login path: the same bounded pool and failed-login throttle.
        issued = await password_login(request, login)
    except LoginRefused as exc:
        resp = _login_form(
            request, error="Too many login attempts; try again shortly.", values=values, status=429
        )
        resp.headers["Retry-After"] = str(max(1, exc.retry_after))
        return resp
    except (AuthError, errors.EcsError):
        # As the API: one answer whatever was wrong.
        return _login_form(
            request, error="Wrong user, account, project or password.", values=values, status=401
        )
    resp = RedirectResponse(PREFIX, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(issued.expires_at - issued.issued_at),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    check_csrf(session, (await _form(request)).get("csrf"))
    authenticator: Authenticator = request.app.state.authenticator
    await run_in_threadpool(authenticator.revoke, session.token)
    resp = _to_login()
    resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return resp


@router.get("")
@router.get("/")
async def servers_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    c = services(request)
    who = session.principal
    servers = await run_in_threadpool(actions.list_servers, c, who)
    keypairs = await run_in_threadpool(actions.keypair_views, c, who)
    cmks = await run_in_threadpool(actions.cmks, c, who)
    images = await run_in_threadpool(actions.os_images, c, who)
    choices = await run_in_threadpool(actions.create_choices, c, who)
    return _page(
        request,
        "servers.html",
        session,
        servers=servers,
        keypairs=keypairs,
        cmks=cmks,
        images=images,
        images_cloud_init={i.id: i.cloud_init for i in images},
        choices=choices,
        rules=actions.password_rules(),
    )


@router.get("/servers/{server_id}")
async def server_page(request: Request, server_id: str) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    c = services(request)
    who = session.principal
    try:
        page = await run_in_threadpool(actions.server_page, c, who, server_id)
    except errors.EcsError:
        # Another project's server and a missing one look the same.
        return _page(request, "missing.html", session, what="server")
    jobs = await run_in_threadpool(actions.recent_jobs, c, who, server_id=server_id)
    keypairs = await run_in_threadpool(actions.keypair_views, c, who)
    cmks = await run_in_threadpool(actions.cmks, c, who)
    images = await run_in_threadpool(actions.os_images, c, who)
    return _page(
        request,
        "server.html",
        session,
        page=page,
        server=page.server,
        ssh=_ssh_command(page.server, request),
        jobs=jobs,
        keypairs=keypairs,
        cmks=cmks,
        images=images,
        images_cloud_init={i.id: i.cloud_init for i in images},
        rules=actions.password_rules(),
    )


def _ssh_command(server: dict[str, Any], request: Request) -> str | None:
    """``ssh -p PORT root@HOST`` for a guest whose SSH port the host forwards."""
    forward = str(server.get("metadata", {}).get("ssh_forward") or "").strip()
    if not forward:
        return None
    host, _, port = forward.rpartition(":")
    if not port.isdigit():
        return None
    if not host or host in ("0.0.0.0", "::", "[::]"):
        host = request.url.hostname or "127.0.0.1"
    return f"ssh -p {port} root@{host}"


@router.get("/keypairs")
async def keypairs_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    kps = await run_in_threadpool(actions.keypairs, services(request), session.principal)
    return _page(request, "keypairs.html", session, keypairs=kps)


@router.get("/jobs")
async def jobs_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login()
    jobs = await run_in_threadpool(actions.recent_jobs, services(request), session.principal)
    return _page(request, "jobs.html", session, jobs=jobs)
