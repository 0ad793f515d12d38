"""Test-suite helpers under /_ecslite/admin: failure injection and reset. Off unless enabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import services
from ecslite.services.admin import Fault

router = APIRouter(prefix="/_ecslite/admin")


class FaultBody(BaseModel):
    step: StrictStr
    server_id: StrictStr | None = None
    times: int = Field(default=1, ge=1, le=1_000_000)
    error_code: StrictStr = "Ecs.0002"
    message: StrictStr = "Injected failure."


@router.post("/faults", status_code=201)
async def add_fault(request: Request) -> dict[str, Any]:
    body = await parse_body(request, FaultBody)
    fault = Fault(
        step=body.step,
        server_id=body.server_id,
        times=body.times,
        error_code=body.error_code,
        message=body.message,
    )
    fid = await run_in_threadpool(services(request).admin.add_fault, fault)
    return {"id": fid, **body.model_dump()}


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": services(request).admin.faults()}


@router.delete("/faults", status_code=204)
def clear_faults(request: Request) -> Response:
    services(request).admin.clear_faults()
    return Response(status_code=204)


@router.post("/reset", status_code=204)
def reset(request: Request) -> Response:
    """Forget every record and reload the seeds the service was started with."""
    services(request).admin.reset(request.app.state.reset_seeds, request.app.state.secret_box)
    return Response(status_code=204)
