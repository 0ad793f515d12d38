"""Operator work on hosts and stuck jobs (``ecslite hosts``, ``ecslite jobs fail``, the admin
API): list hosts with their state and load, disable/enable one for placement, and fail a job
whose host is gone for good so its servers can be recovered elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain import errors, transitions
from ecslite.domain.clock import Clock
from ecslite.domain.host import Capacity, HostStatus
from ecslite.domain.job import PARTS_HOST, JobStatus
from ecslite.domain.placement import Usage
from ecslite.domain.server import REINSTALL_FAILED_FAULT
from ecslite.domain.volume import VolumeStatus
from ecslite.jobs.registry import DEFINITIONS
from ecslite.store.uow import UnitOfWork, UowFactory

# Whoever fails a job: its error code (the system's, as for any host failure).
FAILED_BY_OPERATOR = errors.SYSTEM_ERROR.code


@dataclass(frozen=True)
class HostView:
    """One host as ``hosts list`` shows it."""

    id: str
    driver: str
    availability_zone: str
    address: str
    status: HostStatus  # UP, DOWN, MAINTENANCE (up, disabled)
    enabled: bool
    disabled_reason: str | None
    heartbeat_age: float | None  # seconds since the last heartbeat; None: never
    capacity: Capacity
    usable: Capacity  # after allocation ratios
    allocated: Usage  # vCPUs, RAM, disk and servers placed here
    running_jobs: int


class HostAdmin:
    def __init__(self, uow_factory: UowFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def all(self) -> list[HostView]:
        now = self._clock.now()
        with self._uow_factory(write=False) as uow:
            hosts = uow.hosts.all()
            usage = uow.hosts.usage()
            jobs = uow.hosts.running_jobs()
        return [
            HostView(
                id=h.id,
                driver=h.driver,
                availability_zone=h.availability_zone,
                address=h.address,
                status=h.status(now),
                enabled=h.enabled,
                disabled_reason=h.disabled_reason,
                heartbeat_age=round(now - h.heartbeat, 1) if h.heartbeat is not None else None,
                capacity=h.capacity,
                usable=h.usable,
                allocated=usage.get(h.id, Usage()),
                running_jobs=jobs.get(h.id, 0),
            )
            for h in hosts
        ]

    def get(self, host_id: str) -> HostView:
        for h in self.all():
            if h.id == host_id:
                return h
        raise errors.EcsError(errors.NOT_FOUND, f"No host {host_id}.")

    def set_enabled(self, host_id: str, enabled: bool, reason: str | None = None) -> HostView:
        with self._uow_factory() as uow:
            if not uow.hosts.set_enabled(host_id, enabled, reason):
                raise errors.EcsError(errors.NOT_FOUND, f"No host {host_id}.")
            uow.commit()
        return self.get(host_id)

    def fail_job(self, job_id: str, reason: str) -> None:
        """End an unfinished job as FAIL with ``reason``: its servers go to ERROR with that
        fault (a new reinstall is accepted from there), its volumes being deleted to
        error_deleting. Every part of a job spanning hosts is failed with it."""
        reason = reason.strip()
        if not reason:
            raise errors.EcsError(errors.INVALID_PARAMETER, "A reason is required.")
        with self._uow_factory() as uow:
            job = uow.jobs.get(job_id)
            if job is None:
                raise errors.EcsError(errors.JOB_NOT_FOUND, f"No job {job_id}.")
            if job.status.terminal:
                raise errors.EcsError(
                    errors.INVALID_PARAMETER, f"Job {job_id} has already ended ({job.status})."
                )
            parts = uow.jobs.parts_of(job.id) if job.host_id == PARTS_HOST else [job.id]
            for part in parts:
                self._fail_one(uow, part, reason)
            parent = job.parent_id if job.host_id != PARTS_HOST else job.id
            if parent is not None:
                uow.jobs.roll_up(parent, now=self._clock.iso())
            uow.commit()

    def _fail_one(self, uow: UnitOfWork, job_id: str, reason: str) -> None:
        job = uow.jobs.get(job_id)
        if job is None or job.status.terminal:
            return
        now = self._clock.iso()
        for sub in job.sub_jobs:
            if not sub.status.terminal:
                uow.jobs.update_sub_job(
                    job.id,
                    sub.id,
                    status=JobStatus.FAIL,
                    end_time=now,
                    error_code=FAILED_BY_OPERATOR,
                    fail_reason=reason,
                )
        # Whoever held the lease (a runner of a dead host) loses it: its next write fails.
        uow.jobs.cas(
            job.id,
            owner=None,
            expected={},
            values={
                "status": JobStatus.FAIL,
                "end_time": now,
                "begin_time": job.begin_time or now,
                "error_code": FAILED_BY_OPERATOR,
                "fail_reason": reason,
                "lease_owner": None,
                "lease_expires": None,
            },
        )
        fault = {"code": REINSTALL_FAILED_FAULT, "message": reason, "created": now}
        for sid in uow.servers.owned_by(job.id):
            uow.servers.apply(
                sid,
                transitions.reinstall_failed(fault),
                updated=self._clock.iso(millis=False),
                owner_job=job.id,
            )
        definition = DEFINITIONS[job.job_type]
        for vid in definition.held_volumes(definition.parse_params(job.params)):
            uow.volumes.set_status(vid, VolumeStatus.ERROR_DELETING, expected=VolumeStatus.DELETING)
