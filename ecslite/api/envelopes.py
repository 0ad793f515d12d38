"""Refusals made before any route runs, in the envelope of the API the path belongs to.

Middleware (the input gate, admission control, the login limiter) answers without a route, so
it picks the envelope from the path: Keystone's ``{"error": {"code": 400, "title", "message"}}``
under ``/v3``, Nova's ``{"badRequest": {"code": 400, "message"}}`` under ``/v2.1``, and ECS's
``{"error": {"code": "Ecs.xxxx", "message"}}`` everywhere else.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi.responses import JSONResponse

from ecslite.api.nova.faults import is_nova_path
from ecslite.domain import errors

# Nova's fault names by status (nova/api/openstack/wsgi.py uses these keys).
_NOVA_FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    409: "conflict",
    413: "overLimit",
    429: "overLimit",
    503: "serviceUnavailable",
}


def api_of(path: str) -> str:
    """``"keystone"``, ``"nova"`` or ``"ecs"``: whose error format ``path`` answers in."""
    if path == "/v3" or path.startswith("/v3/"):
        return "keystone"
    if is_nova_path(path):
        return "nova"
    return "ecs"


def refusal(
    path: str,
    exc: errors.EcsError,
    *,
    retry_after: int | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """``exc`` as a response in the envelope of ``path``'s API (ECS code kept on ECS routes)."""
    status = exc.http_status
    headers: dict[str, str] = {}
    if request_id:
        headers["X-Request-Id"] = request_id
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    api = api_of(path)
    if api == "keystone":
        title = HTTPStatus(status).phrase
        content: dict[str, object] = {
            "error": {"code": status, "title": title, "message": exc.message}
        }
    elif api == "nova":
        fault: dict[str, object] = {"code": status, "message": exc.message}
        if retry_after is not None:
            fault["retryAfter"] = str(retry_after)
        content = {_NOVA_FAULTS.get(status, "computeFault"): fault}
    else:
        content = {"error": {"code": exc.code, "message": exc.message}}
    return JSONResponse(status_code=status, content=content, headers=headers)


# OpenAPI: what the refusals above look like, for the published schema.
NOVA_FAULT_SCHEMA: dict[str, object] = {
    "title": "NovaFault",
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
}
KEYSTONE_ERROR_SCHEMA: dict[str, object] = {
    "title": "KeystoneError",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "title", "message"],
            "properties": {
                "code": {"type": "integer"},
                "title": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}


def error_schema(path: str, ecs_ref: str) -> dict[str, object]:
    """The JSON schema of every error ``path`` answers: its own API's envelope."""
    own = {"nova": NOVA_FAULT_SCHEMA, "keystone": KEYSTONE_ERROR_SCHEMA}.get(api_of(path))
    return own if own is not None else {"$ref": ecs_ref}
