"""Nova key pairs under /v2.1/{project_id}/os-keypairs (and the /v2 paths the OTC docs list),
owned by the calling user. Errors come in Nova's envelope: a missing key pair is 404
itemNotFound, a duplicate 409 conflictingRequest (api/nova/faults.py).

Shapes follow the microversion as in Nova, because clients and Tempest check them: ``type`` is
shown and accepted from 2.2, create answers 201 from 2.2 (200 before), delete 204 from 2.2
(202 before), ``user_id`` in a create body from 2.10."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.admission import BoundedPool, Busy
from ecslite.api.body import parse_body
from ecslite.api.deps import principal, services
from ecslite.api.envelopes import refusal
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion
from ecslite.api.openapi import json_body
from ecslite.api.schemas import KeypairCreatedEnvelope, KeypairDetailEnvelope, KeypairList
from ecslite.api.views import keypair_detail, keypair_summary
from ecslite.domain import errors
from ecslite.services.keypairs import CreateKeypair, DeleteKeypair

router = APIRouter()


class KeypairOption(BaseModel):
    name: StrictStr
    public_key: StrictStr | None = None
    type: StrictStr | None = None
    user_id: StrictStr | None = None


class CreateKeypairBody(BaseModel):
    keypair: KeypairOption


@router.get("/v2/{project_id}/os-keypairs", include_in_schema=False, response_model=None)
@router.get(
    "/v2.1/{project_id}/os-keypairs", response_model=None, responses={200: {"model": KeypairList}}
)
def list_keypairs(project_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    kps = services(request).keypairs.of_user(who.user_id)
    v = _version(request)
    return {"keypairs": [{"keypair": _typed(keypair_summary(k), v)} for k in kps]}


def _version(request: Request) -> Microversion:
    v: Microversion = request.state.microversion
    return v


def _typed(view: dict[str, Any], v: Microversion) -> dict[str, Any]:
    """Nova shows a key pair's ``type`` from 2.2 only."""
    if not v.at_least(2):
        view.pop("type", None)
    return view


@router.post(
    "/v2/{project_id}/os-keypairs",
    include_in_schema=False,
    response_model=None,
    openapi_extra=json_body(CreateKeypairBody),
)
@router.post(
    "/v2.1/{project_id}/os-keypairs",
    response_model=None,
    status_code=201,
    # 200 below microversion 2.2, 201 from 2.2 (Nova's statuses).
    responses={200: {"model": KeypairCreatedEnvelope}, 201: {"model": KeypairCreatedEnvelope}},
    openapi_extra=json_body(CreateKeypairBody),
)
async def create(project_id: str, request: Request) -> JSONResponse:
    body = await parse_body(request, CreateKeypairBody)
    v = _version(request)
    sent = body.keypair.model_fields_set
    if "type" in sent and not v.at_least(2):
        raise NovaFault(400, "keypair.type needs microversion 2.2 or later.")
    if "user_id" in sent and not v.at_least(10):
        raise NovaFault(400, "keypair.user_id needs microversion 2.10 or later.")
    status = 201 if v.at_least(2) else 200
    if body.keypair.public_key is not None:
        out = await run_in_threadpool(_create, request, project_id, body.keypair)
        return JSONResponse(status_code=status, content=out)
    # Generating an RSA key costs ~100 ms of CPU: a bounded pool, 429 beyond its queue.
    pool: BoundedPool = request.app.state.keygen_pool
    try:
        out = await pool.run(_create, request, project_id, body.keypair)
        return JSONResponse(status_code=status, content=out)
    except Busy as exc:
        busy = errors.EcsError(errors.TOO_MANY_REQUESTS, "Too many key pairs are being generated.")
        return refusal(request.url.path, busy, retry_after=exc.retry_after)


def _create(request: Request, project_id: str, opt: KeypairOption) -> dict[str, Any]:
    who = principal(request, project_id)
    created = services(request).ops.submit(
        CreateKeypair(
            user_id=who.user_id,
            domain_id=who.domain_id,
            name=opt.name,
            public_key=opt.public_key,
            key_type=opt.type or "ssh",
            for_user_id=opt.user_id,
        )
    )
    kp = created.keypair
    out: dict[str, Any] = {**keypair_summary(kp), "user_id": kp.user_id}
    if created.private_key is not None:
        out["private_key"] = created.private_key
    return {"keypair": _typed(out, _version(request))}


@router.get(
    "/v2/{project_id}/os-keypairs/{keypair_name}", include_in_schema=False, response_model=None
)
@router.get(
    "/v2.1/{project_id}/os-keypairs/{keypair_name}",
    response_model=None,
    responses={200: {"model": KeypairDetailEnvelope}},
)
def show_keypair(project_id: str, keypair_name: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    kp = services(request).keypairs.show(who.user_id, keypair_name)
    return {"keypair": _typed(keypair_detail(kp), _version(request))}


@router.delete(
    "/v2/{project_id}/os-keypairs/{keypair_name}", status_code=204, include_in_schema=False
)
@router.delete(
    "/v2.1/{project_id}/os-keypairs/{keypair_name}",
    status_code=204,
    responses={202: {"description": "Deleted (microversion below 2.2)"}},
)
def delete_keypair(project_id: str, keypair_name: str, request: Request) -> Response:
    who = principal(request, project_id)
    services(request).ops.submit(DeleteKeypair(user_id=who.user_id, name=keypair_name))
    return Response(status_code=204 if _version(request).at_least(2) else 202)
