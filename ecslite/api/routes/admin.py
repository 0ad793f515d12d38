"""Test-suite helpers under /_ecslite/admin: failure injection and reset. Off unless enabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import container
from ecslite.domain import errors
from ecslite.jobs.registry import step_names
from ecslite.store.seeding import apply_seed, wipe

router = APIRouter(prefix="/_ecslite/admin")

KNOWN_STEPS = step_names()


class FaultBody(BaseModel):
    step: StrictStr
    server_id: StrictStr | None = None
    times: int = Field(default=1, ge=1, le=1_000_000)
    error_code: StrictStr = "Ecs.0002"
    message: StrictStr = "Injected failure."


@router.post("/faults", status_code=201)
async def add_fault(request: Request) -> dict[str, Any]:
    body = await parse_body(request, FaultBody)
    if body.step not in KNOWN_STEPS:
        raise errors.EcsError(
            errors.INVALID_PARAMETER, f"step must be one of {', '.join(KNOWN_STEPS)}."
        )

    def add() -> int:
        with container(request).uow_factory() as uow:
            fid = uow.faults.add(
                step=body.step,
                server_id=body.server_id,
                times=body.times,
                error_code=body.error_code,
                message=body.message,
            )
            uow.commit()
        return fid

    return {"id": await run_in_threadpool(add), **body.model_dump()}


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    with container(request).uow_factory(write=False) as uow:
        return {"faults": uow.faults.list()}


@router.delete("/faults", status_code=204)
def clear_faults(request: Request) -> Response:
    with container(request).uow_factory() as uow:
        uow.faults.clear()
        uow.commit()
    return Response(status_code=204)


@router.post("/reset", status_code=204)
def reset(request: Request) -> Response:
    """Forget every record and reload the seeds the service was started with."""
    c = container(request)
    wipe(c.uow_factory)
    for doc in request.app.state.reset_seeds:
        apply_seed(doc, uow_factory=c.uow_factory, box=request.app.state.secret_box, clock=c.clock)
    return Response(status_code=204)
