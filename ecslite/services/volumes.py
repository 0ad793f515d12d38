"""Volumes (EVS): list and show a project's disks, accept the delete of a detached one.

A delete is accepted only for a volume that is detached, ``available`` (or ``error_deleting``
after a failed delete), held by no unfinished job (a create records its disks before attaching
them, a reinstall detaches the old system disk and may re-attach it on rollback: see
``JobDefinition.held_volumes``) and not kept as the system disk of a server whose reinstall
failed (the next reinstall of that server uses it). The volume is claimed ``deleting`` by
compare-and-swap in the transaction that inserts the job, so of two concurrent deletes one is
refused, and no create or reinstall can take it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.codec import encode
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.resources import Image
from ecslite.domain.server import Volume
from ecslite.domain.volume import DELETABLE, VolumeStatus
from ecslite.jobs.registry import DEFINITIONS
from ecslite.jobs.volume_delete import DELETE_VOLUME, DeleteVolumeParams
from ecslite.services.accept import JobPlan, VolumeClaim, accept_job
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.services.placement import check_hosts_up
from ecslite.store.uow import UnitOfWork, UowFactory

# The volume list's sort keys on the wire and the columns they order by.
_SORT_COLUMNS = {"id": "id", "status": "status", "size": "size_gb", "created_at": "created"}


@dataclass(frozen=True)
class VolumeQuery:
    status: str | None = None
    ids: tuple[str, ...] | None = None
    server_id: str | None = None
    sort_key: str = "created_at"
    descending: bool = True
    marker: str | None = None
    offset: int = 0
    limit: int = 1000


@dataclass(frozen=True)
class VolumeContext:
    """What the volume view shows beside the record: its server's host and its image."""

    host: str | None
    image: Image | None


@dataclass(frozen=True)
class VolumePage:
    volumes: list[tuple[Volume, VolumeContext]]
    count: int  # every match, whatever the page
    next_marker: str | None  # the last id of this page when more follow


def list_volumes(uow_factory: UowFactory, project_id: str, q: VolumeQuery) -> VolumePage:
    """Return one page of the project's volumes matching ``q``."""
    with uow_factory(write=False) as uow:
        ids = uow.volumes.ids_of(
            project_id,
            status=q.status,
            ids=q.ids,
            server_id=q.server_id,
            sort_key=_SORT_COLUMNS[q.sort_key],
            descending=q.descending,
        )
        start = 0
        if q.marker is not None:
            if q.marker not in ids:
                raise errors.EcsError(errors.EVS_BAD_MARKER)
            start = ids.index(q.marker) + 1
        start += q.offset
        page = ids[start : start + q.limit]
        more = start + q.limit < len(ids)
        rows = _with_context(uow, uow.volumes.many(page))
    return VolumePage(rows, len(ids), page[-1] if more and page else None)


def show_volume(
    uow_factory: UowFactory, project_id: str, volume_id: str
) -> tuple[Volume, VolumeContext]:
    """Return the volume and its context; another project's volume does not exist."""
    with uow_factory(write=False) as uow:
        vol = uow.volumes.get(volume_id, project_id)
        if vol is None:
            raise errors.EcsError(errors.VOLUME_NOT_FOUND, f"Volume {volume_id} does not exist.")
        return _with_context(uow, [vol])[0]


def _with_context(uow: UnitOfWork, vols: Sequence[Volume]) -> list[tuple[Volume, VolumeContext]]:
    hosts = uow.servers.hosts_of([v.server_id for v in vols if v.server_id is not None])
    images: dict[str, Image | None] = {}
    out = []
    for v in vols:
        if v.image_id is not None and v.image_id not in images:
            images[v.image_id] = uow.catalog.image(v.image_id)
        ctx = VolumeContext(
            host=hosts.get(v.server_id) if v.server_id else None,
            image=images.get(v.image_id) if v.image_id else None,
        )
        out.append((v, ctx))
    return out


@dataclass(frozen=True)
class DeleteVolume(Command[JobAccepted]):
    """Delete a detached volume of the project (EVS ``DELETE .../cloudvolumes/{id}``)."""

    project_id: str
    volume_id: str
    client_token: ClientToken | None = None


def handle_delete(cmd: DeleteVolume, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_delete_volume(
            project_id=cmd.project_id,
            volume_id=cmd.volume_id,
            uow_factory=ports.uow_factory,
            clock=ports.clock,
            client_token=cmd.client_token,
        )
    )


def accept_delete_volume(
    *,
    project_id: str,
    volume_id: str,
    uow_factory: UowFactory,
    clock: Clock,
    client_token: ClientToken | None = None,
) -> str:
    """Return the id of a ``deleteVolume`` job for the project's detached volume."""
    return accept_job(
        project_id=project_id,
        client_token=client_token,
        uow_factory=uow_factory,
        clock=clock,
        plan=lambda uow, job_id: _plan(uow, job_id, project_id, volume_id, clock),
    )


def _plan(uow: UnitOfWork, job_id: str, project_id: str, volume_id: str, clock: Clock) -> JobPlan:
    vol = uow.volumes.get(volume_id, project_id)
    if vol is None:
        raise errors.EcsError(errors.VOLUME_NOT_FOUND, f"Volume {volume_id} does not exist.")
    if vol.server_id is not None or vol.status not in DELETABLE:
        raise errors.EcsError(errors.VOLUME_NOT_DELETABLE, f"Volume {volume_id} is {vol.status}.")
    # Read before the unfinished jobs: a reinstall that takes this retained disk clears the
    # server's fault in the transaction that inserts its job, so one of the two reads sees it.
    if _retained_by_failed_reinstall(uow, project_id, volume_id):
        raise errors.EcsError(
            errors.VOLUME_NOT_DELETABLE,
            f"Volume {volume_id} is the system disk kept by a server whose reinstall failed.",
        )
    if _held_by_unfinished_job(uow, project_id, volume_id):
        raise errors.EcsError(
            errors.VOLUME_NOT_DELETABLE, f"Volume {volume_id} is used by an operation in progress."
        )
    params = DeleteVolumeParams(volume_id=vol.id, size_gb=vol.size_gb, volume_type=vol.volume_type)
    job = Job(
        id=job_id,
        project_id=project_id,
        job_type=JobType.DELETE_VOLUME,
        status=JobStatus.INIT,
        server_id=None,
        params=encode(params),
        created=clock.iso(),
        # The disk is on its host: only that host's runners can delete it.
        host_id=vol.host_id,
        sub_jobs=(
            SubJob(
                id=new_job_id(),
                job_id=job_id,
                seq=0,
                job_type=DELETE_VOLUME,
                server_id=None,
                status=JobStatus.INIT,
            ),
        ),
    )
    check_hosts_up(uow, now=clock.now(), host_ids={vol.host_id})
    claim = VolumeClaim(
        volume_id=vol.id,
        expected=frozenset(DELETABLE),
        status=VolumeStatus.DELETING,
        refusal=errors.VOLUME_NOT_DELETABLE,
    )
    return JobPlan(job, (), (claim,))


def _retained_by_failed_reinstall(uow: UnitOfWork, project_id: str, volume_id: str) -> bool:
    failed, _ = uow.servers.list(project_id, limit=100_000, offset=0, status="ERROR", name=None)
    return any(
        s.reinstall_failed and s.fault and s.fault.get("retained_volume_id") == volume_id
        for s in failed
    )


def _held_by_unfinished_job(uow: UnitOfWork, project_id: str, volume_id: str) -> bool:
    for job_id in uow.jobs.unfinished(project_id):
        job = uow.jobs.get(job_id, project_id)
        if job is None:
            continue
        definition = DEFINITIONS[job.job_type]
        if volume_id in definition.held_volumes(definition.parse_params(job.params)):
            return True
    return False
