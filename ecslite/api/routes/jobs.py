"""GET /v1/{project_id}/jobs/{job_id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ecslite.api.deps import container, principal
from ecslite.api.schemas import JobModel
from ecslite.api.views import job_view
from ecslite.domain import errors

router = APIRouter()


@router.get(
    "/v1/{project_id}/jobs/{job_id}", response_model=None, responses={200: {"model": JobModel}}
)
def show_job(project_id: str, job_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    with container(request).uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id, who.project_id)
    if job is None:
        raise errors.EcsError(errors.JOB_NOT_FOUND, f"Job {job_id} does not exist.")
    return job_view(job)
