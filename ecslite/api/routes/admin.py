"""The operator's API under /_ecslite/admin: failure injection and reset (test-suite helpers),
hosts (list, disable, enable), showing, cancelling and failing a job. Off unless enabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import parse_body
from ecslite.api.deps import services
from ecslite.api.openapi import json_body
from ecslite.domain.job import Job
from ecslite.services.admin import Fault
from ecslite.services.cancel import CancelAnyJob, ended_cancelled
from ecslite.services.hosts import HostView

router = APIRouter(prefix="/_ecslite/admin")


class FaultBody(BaseModel):
    step: StrictStr
    server_id: StrictStr | None = None
    times: int = Field(default=1, ge=1, le=1_000_000)
    error_code: StrictStr = "Ecs.0002"
    message: StrictStr = "Injected failure."


@router.post("/faults", status_code=201, openapi_extra=json_body(FaultBody))
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


def _host(h: HostView) -> dict[str, Any]:
    return {
        "id": h.id,
        "driver": h.driver,
        "availability_zone": h.availability_zone,
        "address": h.address,
        "state": "up" if h.status.value != "DOWN" else "down",
        "status": h.status.value,
        "enabled": h.enabled,
        "disabled_reason": h.disabled_reason,
        "heartbeat_age": h.heartbeat_age,
        "capacity": {
            "vcpus": h.capacity.vcpus,
            "ram_mb": h.capacity.ram_mb,
            "disk_gb": h.capacity.disk_gb,
        },
        "usable": {"vcpus": h.usable.vcpus, "ram_mb": h.usable.ram_mb, "disk_gb": h.usable.disk_gb},
        "allocated": {
            "vcpus": h.allocated.vcpus,
            "ram_mb": h.allocated.ram_mb,
            "disk_gb": h.allocated.disk_gb,
        },
        "servers": h.allocated.servers,
        "running_jobs": h.running_jobs,
    }


class DisableBody(BaseModel):
    reason: StrictStr | None = Field(default=None, max_length=255)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FailBody(BaseModel):
    reason: StrictStr = Field(min_length=1, max_length=255)


@router.get("/hosts")
def list_hosts(request: Request) -> dict[str, Any]:
    return {"hosts": [_host(h) for h in services(request).hosts.all()]}


@router.get("/hosts/{host_id}")
def show_host(request: Request, host_id: str) -> dict[str, Any]:
    return {"host": _host(services(request).hosts.get(host_id))}


@router.post("/hosts/{host_id}/disable", openapi_extra=json_body(DisableBody))
async def disable_host(request: Request, host_id: str) -> dict[str, Any]:
    body = await parse_body(request, DisableBody)
    view = await run_in_threadpool(services(request).hosts.set_enabled, host_id, False, body.reason)
    return {"host": _host(view)}


@router.post("/hosts/{host_id}/enable")
async def enable_host(request: Request, host_id: str) -> dict[str, Any]:
    view = await run_in_threadpool(services(request).hosts.set_enabled, host_id, True)
    return {"host": _host(view)}


@router.post("/jobs/{job_id}/fail", status_code=202, openapi_extra=json_body(FailBody))
async def fail_job(request: Request, job_id: str) -> dict[str, Any]:
    body = await parse_body(request, FailBody)
    await run_in_threadpool(services(request).hosts.fail_job, job_id, body.reason)
    return {"job_id": job_id, "status": "FAIL"}


def _job(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "project_id": job.project_id,
        "job_type": job.job_type.value,
        "status": job.status.value,
        "host_id": job.host_id,
        "cancel_requested": job.cancel_requested,
        "cancelled": ended_cancelled(job),
        "error_code": job.error_code,
        "fail_reason": job.fail_reason,
        "begin_time": job.begin_time,
        "end_time": job.end_time,
    }


@router.get("/jobs/{job_id}")
def show_job(request: Request, job_id: str) -> dict[str, Any]:
    return {"job": _job(services(request).jobs.any_project(job_id))}


@router.post("/jobs/{job_id}/cancel", status_code=202, openapi_extra=json_body(CancelBody))
async def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    """Mark the job; its runner undoes it at its next step boundary (services/cancel.py)."""
    if (await request.body()).strip():
        await parse_body(request, CancelBody)  # takes nothing: anything named is refused
    ops = services(request).ops
    await run_in_threadpool(ops.submit, CancelAnyJob(job_id))
    return {"job": _job(await run_in_threadpool(services(request).jobs.any_project, job_id))}
