"""Turn every failure into the error envelope of the API its path belongs to: ECS's
``{"error": {"code": "Ecs.xxxx", "message"}}``, Nova's (``{"itemNotFound": {"code": 404,
"message"}}``, api/nova/faults.py) under ``/v2.1``, Keystone's (``{"error": {"code": 401,
"title", "message"}}``) under ``/v3`` — for route errors and the auth guard's refusals alike."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecslite.api.envelopes import api_of, refusal
from ecslite.api.nova.faults import NovaFault, from_ecs, is_nova_path, nova_response
from ecslite.api.nova.microversion import echo_headers
from ecslite.domain import errors

log = logging.getLogger("ecslite.api")

# The EVS routes (api/routes/volumes.py) answer malformed queries with EVS's code.
_EVS_PATH = re.compile(r"^/v2/[^/]+/cloudvolumes(/|$)")


_CHALLENGE = 'SDK-HMAC-SHA256, Keystone uri="/v3"'


def error_response(exc: errors.EcsError, request_id: str | None = None) -> JSONResponse:
    headers = {"X-Request-Id": request_id} if request_id else {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = _CHALLENGE
    return JSONResponse(
        status_code=exc.http_status,
        content={"error": {"code": exc.code, "message": exc.message}},
        headers=headers,
    )


def error_for_path(
    path: str,
    exc: errors.EcsError,
    request_id: str | None = None,
    nova_headers: dict[str, str] | None = None,
) -> JSONResponse:
    """``exc`` in the envelope of ``path``'s API; a 401 always carries the challenge."""
    if is_nova_path(path):
        headers = dict(nova_headers or {})
        if request_id:
            headers["X-Request-Id"] = request_id
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = _CHALLENGE
        return nova_response(from_ecs(exc), headers)
    if api_of(path) == "keystone":
        resp = refusal(path, exc, request_id=request_id)
        if exc.http_status == 401:
            resp.headers["WWW-Authenticate"] = _CHALLENGE
        return resp
    return error_response(exc, request_id)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _nova(request: Request, fault: NovaFault) -> JSONResponse:
    headers = {}
    version = getattr(request.state, "microversion", None)
    if version is not None:
        headers.update(echo_headers(version))
    rid = _request_id(request)
    if rid:
        headers["X-Request-Id"] = rid
    return nova_response(fault, headers)


def _render(request: Request, exc: errors.EcsError) -> JSONResponse:
    version = getattr(request.state, "microversion", None)
    nova_headers = echo_headers(version) if version is not None else None
    return error_for_path(request.url.path, exc, _request_id(request), nova_headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.EcsError)
    async def _ecs(request: Request, exc: errors.EcsError) -> JSONResponse:
        return _render(request, exc)

    @app.exception_handler(NovaFault)
    async def _nova_fault(request: Request, exc: NovaFault) -> JSONResponse:
        return _nova(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        detail = f"{where}: {first.get('msg', 'invalid value')}" if where else None
        spec = errors.EVS_BAD_QUERY if _EVS_PATH.match(request.url.path) else None
        return _render(request, errors.EcsError(spec or errors.INVALID_PARAMETER, detail))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        spec = {404: errors.NOT_FOUND, 405: errors.METHOD_NOT_ALLOWED}.get(exc.status_code)
        if spec is None:
            spec = errors.ErrorSpec(errors.REQUEST_ERROR.code, exc.status_code, str(exc.detail))
        return _render(request, errors.EcsError(spec))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception(
            "unhandled error request_id=%s path=%s", _request_id(request), request.url.path
        )
        return _render(request, errors.EcsError(errors.INTERNAL))
