"""Nova key pairs under /v2.1/{project_id}/os-keypairs (and the /v2 paths the OTC docs list),
owned by the calling user. Errors come in Nova's envelope: a missing key pair is 404
itemNotFound, a duplicate 409 conflictingRequest (api/nova/faults.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.admission import BoundedPool, Busy
from ecslite.api.body import parse_body
from ecslite.api.deps import container, principal
from ecslite.api.envelopes import refusal
from ecslite.api.openapi import json_body
from ecslite.api.principal import Principal
from ecslite.api.schemas import KeypairCreatedEnvelope, KeypairDetailEnvelope, KeypairList
from ecslite.api.views import keypair_detail, keypair_summary
from ecslite.domain import errors
from ecslite.services.keypairs import create_keypair

router = APIRouter()


def _user(who: Principal) -> str:
    if who.user_id is None:
        raise errors.EcsError(errors.FORBIDDEN, "No user is known for this project.")
    return who.user_id


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
    if who.user_id is None:
        return {"keypairs": []}
    with container(request).uow_factory(write=False) as uow:
        kps = uow.catalog.keypairs(who.user_id)
    return {"keypairs": [{"keypair": keypair_summary(k)} for k in kps]}


@router.post("/v2/{project_id}/os-keypairs", include_in_schema=False, response_model=None)
@router.post(
    "/v2.1/{project_id}/os-keypairs",
    response_model=None,
    responses={200: {"model": KeypairCreatedEnvelope}},
    openapi_extra=json_body(CreateKeypairBody),
)
async def create(project_id: str, request: Request) -> dict[str, Any] | JSONResponse:
    body = await parse_body(request, CreateKeypairBody)
    if body.keypair.public_key is not None:
        return await run_in_threadpool(_create, request, project_id, body.keypair)
    # Generating an RSA key costs ~100 ms of CPU: a bounded pool, 429 beyond its queue.
    pool: BoundedPool = request.app.state.keygen_pool
    try:
        return await pool.run(_create, request, project_id, body.keypair)
    except Busy as exc:
        busy = errors.EcsError(errors.TOO_MANY_REQUESTS, "Too many key pairs are being generated.")
        return refusal(request.url.path, busy, retry_after=exc.retry_after)


def _create(request: Request, project_id: str, opt: KeypairOption) -> dict[str, Any]:
    c = container(request)
    who = principal(request, project_id)
    user_id = _user(who)
    if opt.user_id is not None and opt.user_id != user_id:
        with c.uow_factory(write=False) as uow:
            other = uow.identity.user(opt.user_id)
        if other is None or other.domain_id != who.domain_id:
            raise errors.EcsError(
                errors.INVALID_PARAMETER, "user_id is not a user of this account."
            )
        user_id = other.id
    kp, private_key = create_keypair(
        user_id=user_id,
        name=opt.name,
        public_key=opt.public_key,
        key_type=opt.type or "ssh",
        uow_factory=c.uow_factory,
        clock=c.clock,
    )
    out: dict[str, Any] = {**keypair_summary(kp), "user_id": kp.user_id}
    if private_key is not None:
        out["private_key"] = private_key
    return {"keypair": out}


@router.get("/v2/{project_id}/os-keypairs/{keypair_name}", include_in_schema=False, response_model=None)
@router.get(
    "/v2.1/{project_id}/os-keypairs/{keypair_name}",
    response_model=None,
    responses={200: {"model": KeypairDetailEnvelope}},
)
def show_keypair(project_id: str, keypair_name: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    with container(request).uow_factory(write=False) as uow:
        kp = uow.catalog.keypair(who.user_id, keypair_name) if who.user_id else None
    if kp is None:
        raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)
    return {"keypair": keypair_detail(kp)}


@router.delete(
    "/v2/{project_id}/os-keypairs/{keypair_name}", status_code=204, include_in_schema=False
)
@router.delete("/v2.1/{project_id}/os-keypairs/{keypair_name}", status_code=204)
def delete_keypair(project_id: str, keypair_name: str, request: Request) -> Response:
    who = principal(request, project_id)
    with container(request).uow_factory() as uow:
        deleted = uow.catalog.delete_keypair(who.user_id, keypair_name) if who.user_id else False
        uow.commit()
    if not deleted:
        raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)
    return Response(status_code=204)
