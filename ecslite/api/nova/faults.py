"""Nova's error envelope: ``{"itemNotFound": {"code": 404, "message": "..."}}``.

Routes under the OpenStack paths answer in this envelope. They call the same services as the
ECS routes, which raise ``EcsError``; ``from_ecs`` translates those by meaning (a missing key
pair is 404 here, a busy server is 409), so no service needs to know which API called it.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

from ecslite.domain import errors, limits

_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    431: "badRequest",
    500: "computeFault",
}

# Paths whose errors use Nova's envelope: compute v2.1, the OTC-documented /v2 key pair paths,
# and the image service (Glance clients read only the status code) — but not the IMS routes
# served under the image URL, which answer as ECS does.
_NOVA_PATH = re.compile(r"^/(v2\.1/|v2/[^/]+/os-keypairs(/|$)|image(?!/v2/cloudimages|/v1/)(/|$))")


class NovaFault(Exception):
    """A refusal on an OpenStack route; ``status`` picks the envelope's name."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_nova_path(path: str) -> bool:
    return _NOVA_PATH.match(path) is not None


def nova_response(fault: NovaFault, headers: dict[str, str] | None = None) -> JSONResponse:
    name = _NAMES.get(fault.status, "badRequest" if fault.status < 500 else "computeFault")
    return JSONResponse(
        status_code=fault.status,
        content={name: {"code": fault.status, "message": fault.message}},
        headers=headers,
    )


def from_ecs(exc: errors.EcsError) -> NovaFault:
    """Translate a service refusal into the status Nova gives the same situation."""
    if exc.spec is errors.KEYPAIR_NOT_FOUND:
        return NovaFault(404, "The key pair does not exist.")
    if exc.spec is errors.SERVER_NOT_FOUND:
        return NovaFault(404, "Instance could not be found.")
    if exc.spec is errors.BAD_SERVER_STATE:
        return NovaFault(409, exc.message)
    if exc.spec is limits.METADATA_ITEMS:
        return NovaFault(403, f"Quota exceeded for metadata items: {exc.message}")
    if exc.spec in (errors.ECS_QUOTA, errors.VOLUME_QUOTA):
        return NovaFault(403, exc.message)  # Nova's "Quota exceeded" is a 403
    return NovaFault(exc.http_status, exc.message)
