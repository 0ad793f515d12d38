"""Turn every failure into the API's error envelope: ``{"error": {"code", "message"}}``, or on
the OpenStack routes Nova's (``{"itemNotFound": {"code": 404, "message"}}``, api/nova/faults.py)."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecslite.api.nova.faults import NovaFault, from_ecs, is_nova_path, nova_response
from ecslite.api.nova.microversion import echo_headers
from ecslite.domain import errors

log = logging.getLogger("ecslite.api")

# The EVS routes (api/routes/volumes.py) answer malformed queries with EVS's code.
_EVS_PATH = re.compile(r"^/v2/[^/]+/cloudvolumes(/|$)")


def error_response(exc: errors.EcsError, request_id: str | None = None) -> JSONResponse:
    headers = {"X-Request-Id": request_id} if request_id else {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'SDK-HMAC-SHA256, Keystone uri="/v3"'
    return JSONResponse(
        status_code=exc.http_status,
        content={"error": {"code": exc.code, "message": exc.message}},
        headers=headers,
    )


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
    if is_nova_path(request.url.path):
        return _nova(request, from_ecs(exc))
    return error_response(exc, _request_id(request))


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
