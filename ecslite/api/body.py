"""Parse a JSON request body into a pydantic model, with the API's own error codes."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from ecslite.domain import errors
from ecslite.services.idempotency import ClientToken

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 64 * 1024


async def parse_body(request: Request, model: type[M]) -> M:
    """Return the body as ``model``: empty → Common.0002; not JSON or wrong shape → Ecs.0005."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise errors.EcsError(
            errors.UNSUPPORTED_MEDIA, f"Got {ctype[:64]!r}; send Content-Type: application/json."
        )
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise errors.EcsError(errors.PAYLOAD_TOO_LARGE, f"The limit is {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        raise errors.EcsError(errors.EMPTY_BODY)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.EcsError(
            errors.INVALID_PARAMETER, "The request body is not valid JSON."
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise errors.EcsError(errors.INVALID_PARAMETER, f"{where}: {first['msg']}.") from None


async def client_token(request: Request) -> ClientToken | None:
    """The request's ``X-Client-Token`` with a keyed fingerprint of what it asks for."""
    raw = request.headers.get("x-client-token")
    if raw is None:
        return None
    body = await request.body()
    box = request.app.state.secret_box
    what = b"\n".join([request.method.encode(), request.url.path.encode(), body])
    return ClientToken.parse(raw, box.fingerprint(what))
