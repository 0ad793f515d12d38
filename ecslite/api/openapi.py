"""The OpenAPI document: every route with its request body, its success shape and the errors
it can answer, each in the error envelope of the API the path belongs to (ECS, Nova or Keystone)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ecslite.api import envelopes
from ecslite.api.schemas import ErrorBody

_ERRORS = {
    "400": "Invalid request or a rule refused it (Ecs.xxxx / Common.xxxx).",
    "401": "Missing or invalid credentials (Common.0013).",
    "404": "No such resource in this project (Ecs.0114) or no such route.",
    "405": "Method not allowed on this path.",
    "409": "Conflict: the key pair exists, or X-Client-Token was used for another request.",
    "413": "Request body over 64 KiB.",
    "415": "Request body is not JSON.",
    "431": "Request headers over 16 KiB.",
    "429": "Throttled or queue full (APIGW.0308); retry after Retry-After seconds.",
}


_CLIENT_TOKEN = {
    "name": "X-Client-Token",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,64}$"},
    "description": "Idempotency token: a retry returns the job of the first attempt.",
}


_BODY_MODELS: dict[str, type[BaseModel]] = {}


def json_body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """``openapi_extra`` for a route that parses ``model`` from its JSON body itself.

    Every route that reads a JSON body declares it this way, hidden routes included: the
    declaration is what ``declared_body`` (and the body-shape property test) finds on the route.
    """
    known = _BODY_MODELS.setdefault(model.__name__, model)
    if known is not model:
        # The name is the model's key here and its name in the OpenAPI document.
        raise ValueError(f"two body models are named {model.__name__}")
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": ref}}}}


def declared_body(route: object) -> tuple[type[BaseModel], str] | None:
    """The body model and media type ``route`` (an ``APIRoute``, or FastAPI's ``RouteContext``
    of an included one) declared with ``json_body``, if any."""
    extra = getattr(route, "openapi_extra", None) or {}
    content = extra.get("requestBody", {}).get("content", {})
    for media_type, spec in content.items():
        name = str(spec["schema"]["$ref"]).rsplit("/", 1)[1]
        return _BODY_MODELS[name], media_type
    return None


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        paths_text = json.dumps(spec["paths"])
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        # Hidden routes (Nova, Glance, console) declare their bodies too; only the bodies of
        # the routes in the document are in it.
        used = [m for name, m in _BODY_MODELS.items() if f'/schemas/{name}"' in paths_text]
        models: list[type[BaseModel]] = [ErrorBody, *used]
        for model in models:
            _add_schema(schemas, model)
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        components["securitySchemes"] = {
            # The official SDKs sign requests instead (SDK-HMAC-SHA256 in Authorization, see
            # docs/auth.md); OpenAPI has no scheme for that signature, so only the token is listed.
            "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
        }
        for path, ops in spec["paths"].items():
            # Every refusal on a path, from a route or from the middleware in front of it, is in
            # the envelope of the path's API (api/envelopes.py).
            schema = envelopes.error_schema(path, "#/components/schemas/ErrorBody")
            error_ref = {"application/json": {"schema": schema}}
            for method, op in ops.items():
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                for status, text in _ERRORS.items():
                    responses.setdefault(status, {"description": text, "content": error_ref})
                if "500" not in responses:
                    responses["500"] = {
                        "description": "Internal error (Ecs.0002).",
                        "content": error_ref,
                    }
                if not path.startswith("/v3/") and not path.startswith("/_ecslite/"):
                    op["security"] = [{"token": []}]
                if method == "post" and ("reinstallos" in path or path.endswith("/action")):
                    op["parameters"] = [*op.get("parameters", []), _CLIENT_TOKEN]
        app.openapi_schema = spec
        return spec

    app.openapi = build  # type: ignore[method-assign]
