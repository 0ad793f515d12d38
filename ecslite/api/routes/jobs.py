"""GET /v1/{project_id}/jobs/{job_id}; also under the ``image`` catalog URL
(``/image/v1/{project_id}/jobs/{job_id}``), where otcextensions looks for IMS jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ecslite.api.deps import principal, services
from ecslite.api.json_body import JsonBody
from ecslite.api.schemas import JobModel
from ecslite.api.views import job_view

router = APIRouter()


@router.get("/image/v1/{project_id}/jobs/{job_id}", response_model=None, include_in_schema=False)
@router.get(
    "/v1/{project_id}/jobs/{job_id}", response_model=None, responses={200: {"model": JobModel}}
)
def show_job(project_id: str, job_id: str, request: Request) -> JsonBody:
    who = principal(request, project_id)
    return JsonBody(job_view(services(request).jobs.show(who.project_id, job_id)))
