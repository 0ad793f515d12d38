"""Nova's instance actions (``openstack server event list/show``), built from the server's jobs.

Each job that acted on the server is one action (its id is the ``request_id``): ``create``,
``delete``, ``rebuild`` (a reinstall or change of OS), ``reboot``, ``stop``, ``start``. The job's
steps that concern the server are the action's events. Jobs are kept for
``ECSLITE_JOB_RETENTION_DAYS``, so older actions are no longer listed. From 2.21 a deleted
server's actions are listed too while its jobs are kept (below 2.21, 404 as in Nova).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request

from ecslite.api.deps import principal, services
from ecslite.api.nova.faults import NovaFault
from ecslite.api.nova.microversion import Microversion, microversion
from ecslite.api.nova.query import refuse_unknown
from ecslite.api.openstack_headers import openstack_request_id
from ecslite.domain import errors
from ecslite.domain.job import Job, JobStatus, JobType

router = APIRouter(include_in_schema=False)

_ACTION_NAMES = {
    JobType.CREATE: "create",
    JobType.DELETE: "delete",
    JobType.REINSTALL: "rebuild",
    JobType.CHANGE_OS: "rebuild",
    JobType.BATCH_REBOOT: "reboot",
    JobType.BATCH_STOP: "stop",
    JobType.BATCH_START: "start",
}
_RESULTS = {JobStatus.SUCCESS: "Success", JobStatus.FAIL: "Error"}


@dataclass(frozen=True)
class _Actions:
    server_id: str
    # Jobs do not record who asked: the server's owner is the closest truthful answer; once
    # the server is deleted its owner is no longer recorded, and the caller is named.
    user_id: str
    jobs: list[Job]


def _of_server(request: Request, project_id: str, server_id: str, v: Microversion) -> _Actions:
    refuse_unknown(request.query_params, frozenset())
    who = principal(request, project_id)
    try:
        server, jobs = services(request).jobs.of_server(
            who.project_id, server_id, deleted_too=v.at_least(21)
        )
    except errors.EcsError as exc:
        if exc.spec is not errors.SERVER_NOT_FOUND:
            raise
        raise NovaFault(404, f"Instance {server_id} could not be found.") from None
    return _Actions(server_id, server.user_id if server else who.user_id, jobs)


def _action(actions: _Actions, job: Job, v: Microversion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": _ACTION_NAMES.get(job.job_type, job.job_type.value),
        "instance_uuid": actions.server_id,
        # The job's req-<uuid>: the x-openstack-request-id of the request that started it.
        "request_id": openstack_request_id(job.id),
        "user_id": actions.user_id,
        "project_id": job.project_id,
        "start_time": job.created,
        "message": job.fail_reason if job.status is JobStatus.FAIL else None,
    }
    if v.at_least(58):
        out["updated_at"] = job.end_time or job.begin_time or job.created
    return out


@router.get("/v2.1/{project_id}/servers/{server_id}/os-instance-actions")
def list_actions(
    project_id: str, server_id: str, request: Request, v: Microversion = Depends(microversion)
) -> dict[str, Any]:
    actions = _of_server(request, project_id, server_id, v)
    return {"instanceActions": [_action(actions, job, v) for job in reversed(actions.jobs)]}


@router.get("/v2.1/{project_id}/servers/{server_id}/os-instance-actions/{request_id}")
def show_action(
    project_id: str,
    server_id: str,
    request_id: str,
    request: Request,
    v: Microversion = Depends(microversion),
) -> dict[str, Any]:
    actions = _of_server(request, project_id, server_id, v)
    # The request id as listed (req-<uuid>) or the job's own id.
    job = next((j for j in actions.jobs if request_id in (j.id, openstack_request_id(j.id))), None)
    if job is None:
        raise NovaFault(
            404, f"Action for request_id {request_id} on instance {server_id} not found"
        )
    events = [
        {
            "event": sub.job_type,
            "start_time": sub.begin_time,
            "finish_time": sub.end_time,
            "result": _RESULTS.get(sub.status),
        }
        for sub in job.sub_jobs
        if sub.server_id in (None, server_id) and sub.begin_time is not None
    ]
    return {"instanceAction": {**_action(actions, job, v), "events": events}}
