"""EVS volumes: GET /v2/{p}/cloudvolumes/detail, GET and DELETE /v2/{p}/cloudvolumes/{id}.

Routes translate the query into a ``VolumeQuery`` and answer with EVS's codes. Filters that
cannot match anything here (a name: volumes have none; another availability zone; shared disks;
a dedicated storage pool; a service other than EVS; an enterprise project other than the
default) give an empty list; ``metadata``, ``not_metadata`` and ``volume_type_id`` are refused
(EVS.5400) rather than ignored, since ignoring them would list volumes they exclude.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from ecslite.api.body import client_token
from ecslite.api.deps import principal, services
from ecslite.api.schemas import JobAccepted, VolumeEnvelope, VolumeList
from ecslite.api.volume_views import volume_detail
from ecslite.domain import errors
from ecslite.domain.server import AVAILABILITY_ZONE
from ecslite.domain.volume import DEFAULT_SORT_DIR, DEFAULT_SORT_KEY, MAX_LIMIT, SORT_KEYS
from ecslite.services.idempotency import ClientToken
from ecslite.services.volumes import DeleteVolume, VolumeQuery

router = APIRouter()

# ids=['id1','id2',...] (EVS's format; at most 60 ids)
_IDS = re.compile(r"^\[\s*(?:'[^',\[\]]*'\s*(?:,\s*'[^',\[\]]*'\s*)*)?\]$")
MAX_IDS = 60


def _parse_ids(raw: str) -> tuple[str, ...]:
    if not _IDS.match(raw):
        raise errors.EcsError(errors.EVS_BAD_QUERY, "ids must look like ['id1','id2'].")
    ids = tuple(x.strip().strip("'") for x in raw.strip()[1:-1].split(",") if x.strip())
    if len(ids) > MAX_IDS:
        raise errors.EcsError(errors.EVS_BAD_QUERY, f"ids may list at most {MAX_IDS} volumes.")
    return ids


def _matches_nothing(
    name: str | None,
    availability_zone: str | None,
    multiattach: bool | None,
    service_type: str | None,
    dedicated_storage_id: str | None,
    dedicated_storage_name: str | None,
    enterprise_project_id: str | None,
) -> bool:
    return (
        bool(name)
        or availability_zone not in (None, AVAILABILITY_ZONE)
        or multiattach is True
        or service_type not in (None, "EVS")
        or bool(dedicated_storage_id)
        or bool(dedicated_storage_name)
        or enterprise_project_id not in (None, "0", "all_granted_eps")
    )


@router.get(
    "/v2/{project_id}/cloudvolumes/detail",
    response_model=None,
    responses={200: {"model": VolumeList}},
)
def list_volumes_detail(
    project_id: str,
    request: Request,
    limit: int | None = None,
    offset: int | None = None,
    marker: str | None = None,
    sort_key: str | None = None,
    sort_dir: str | None = None,
    status: str | None = None,
    name: str | None = None,
    one_id: str | None = Query(default=None, alias="id"),
    ids: str | None = None,
    server_id: str | None = None,
    availability_zone: str | None = None,
    multiattach: bool | None = None,
    service_type: str | None = None,
    dedicated_storage_id: str | None = None,
    dedicated_storage_name: str | None = None,
    enterprise_project_id: str | None = None,
    metadata: str | None = None,
    not_metadata: str | None = None,
    volume_type_id: str | None = None,
) -> dict[str, Any]:
    who = principal(request, project_id)
    for given, what in ((metadata, "metadata"), (not_metadata, "not_metadata")):
        if given is not None:
            raise errors.EcsError(errors.EVS_BAD_QUERY, f"The {what} filter is not supported.")
    if volume_type_id is not None:
        raise errors.EcsError(
            errors.EVS_BAD_QUERY, "volume_type_id is not supported: filter the list by status."
        )
    if limit is not None and limit > MAX_LIMIT:
        raise errors.EcsError(errors.EVS_BAD_LIMIT_MAX)
    if limit is not None and limit < 1:
        raise errors.EcsError(errors.EVS_BAD_LIMIT)
    if offset is not None and offset < 0:
        raise errors.EcsError(errors.EVS_BAD_QUERY, "offset must not be negative.")
    key = sort_key if sort_key is not None else DEFAULT_SORT_KEY
    if key not in SORT_KEYS:
        raise errors.EcsError(errors.EVS_BAD_SORT_KEY)
    direction = sort_dir if sort_dir is not None else DEFAULT_SORT_DIR
    if direction not in ("asc", "desc"):
        raise errors.EcsError(errors.EVS_BAD_SORT_DIR)
    wanted: tuple[str, ...] | None = None
    if ids is not None:
        wanted = _parse_ids(ids)  # as EVS: with ids, id is ignored
    elif one_id is not None:
        wanted = (one_id,)
    if _matches_nothing(
        name,
        availability_zone,
        multiattach,
        service_type,
        dedicated_storage_id,
        dedicated_storage_name,
        enterprise_project_id,
    ):
        return {"count": 0, "volumes": []}
    q = VolumeQuery(
        status=status,
        ids=wanted,
        server_id=server_id,
        sort_key=key,
        descending=direction == "desc",
        marker=marker,
        offset=offset or 0,
        limit=limit or MAX_LIMIT,
    )
    page = services(request).volumes.page(who.project_id, q)
    base = str(request.base_url)
    body: dict[str, Any] = {
        "count": page.count,
        "volumes": [volume_detail(v, ctx, base_url=base) for v, ctx in page.volumes],
    }
    if page.next_marker is not None:
        href = (
            f"{base.rstrip('/')}/v2/{who.project_id}/cloudvolumes/detail"
            f"?limit={q.limit}&marker={page.next_marker}"
        )
        body["volumes_links"] = [{"href": href, "rel": "next"}]
    return body


@router.get(
    "/v2/{project_id}/cloudvolumes/{volume_id}",
    response_model=None,
    responses={200: {"model": VolumeEnvelope}},
)
def show(project_id: str, volume_id: str, request: Request) -> dict[str, Any]:
    who = principal(request, project_id)
    vol, ctx = services(request).volumes.show(who.project_id, volume_id)
    return {"volume": volume_detail(vol, ctx, base_url=str(request.base_url))}


@router.delete("/v2/{project_id}/cloudvolumes/{volume_id}", response_model=JobAccepted)
async def delete(project_id: str, volume_id: str, request: Request) -> JobAccepted:
    token = await client_token(request)
    return await run_in_threadpool(_delete, request, project_id, volume_id, token)


def _delete(
    request: Request, project_id: str, volume_id: str, token: ClientToken | None
) -> JobAccepted:
    who = principal(request, project_id)
    command = DeleteVolume(project_id=who.project_id, volume_id=volume_id, client_token=token)
    return JobAccepted(job_id=services(request).ops.submit(command).job_id)
