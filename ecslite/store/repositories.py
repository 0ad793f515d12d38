"""Repositories: translate between table rows and domain records.

Every state-changing write on servers and jobs is conditional (compare-and-swap): callers pass
the values they expect and learn from the return value whether the write happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.sql import ColumnElement

from ecslite.domain.boot import BootConfig
from ecslite.domain.job import Job, JobStatus, JobType, Phase, SubJob
from ecslite.domain.resources import Image, Keypair, KmsKey, Project, User
from ecslite.domain.server import REBUILD_TASK_STATES, Server, TaskState, VmState, Volume
from ecslite.domain.transitions import KEEP, ServerChange
from ecslite.store import tables as t
from ecslite.store.events import Changes

JOBS_CHANNEL = "ecslite_jobs"

# The reads behind every event and GET, built once: a statement object memoizes its cache key,
# so executing it again skips construction and cache-key generation (about two thirds of
# SQLAlchemy's cost per small statement here). Values go in as bound parameters.
_SERVER = select(t.servers).where(t.servers.c.id == bindparam("id"))
_SERVER_IN_PROJECT = _SERVER.where(t.servers.c.project_id == bindparam("project_id"))
_VOLUME = select(t.volumes).where(t.volumes.c.id == bindparam("id"))
_VOLUMES_OF = (
    select(t.volumes)
    .where(t.volumes.c.server_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.volumes.c.boot_index.is_(None), t.volumes.c.boot_index, t.volumes.c.device)
)
_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("id"))
_JOB_IN_PROJECT = _JOB.where(t.jobs.c.project_id == bindparam("project_id"))
_SUB_JOBS = (
    select(t.sub_jobs).where(t.sub_jobs.c.job_id == bindparam("job_id")).order_by(t.sub_jobs.c.seq)
)
_IMAGE = select(t.images).where(t.images.c.id == bindparam("id"))
# The runner's writes at every step boundary, built once the same way; the columns to set
# come with the parameters (an UPDATE without values() sets the columns its parameters name).
_JOB_OWNED = update(t.jobs).where(
    t.jobs.c.id == bindparam("_id"), t.jobs.c.lease_owner == bindparam("_owner")
)
# A job's change of its own server (the ServerChange's columns come with the parameters).
_SERVER_OWNED = (
    update(t.servers)
    .where(t.servers.c.id == bindparam("_id"), t.servers.c.current_job_id == bindparam("_job"))
    .values(version=t.servers.c.version + 1)
)
_SUB_JOB = update(t.sub_jobs).where(t.sub_jobs.c.id == bindparam("_id"))
_FAULT = (
    select(t.sim_faults)
    .where(
        t.sim_faults.c.step == bindparam("step"),
        t.sim_faults.c.remaining > 0,
        or_(t.sim_faults.c.server_id.is_(None), t.sim_faults.c.server_id == bindparam("server")),
    )
    .order_by(t.sim_faults.c.id)
    .limit(1)
)


def _conds(table: Any, expected: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for key, value in expected.items():
        col = table.c[key]
        conds.append(col.is_(None) if value is None else col == value)
    return conds


def _image(row: Any) -> Image:
    return Image(
        id=row.id,
        name=row.name,
        status=row.status,
        cloud_init=bool(row.cloud_init),
        os_type=row.os_type,
        min_disk_gb=row.min_disk_gb,
        project_id=row.project_id,
    )


def _server(row: Any) -> Server:
    return Server(
        id=row.id,
        project_id=row.project_id,
        user_id=row.user_id,
        name=row.name,
        image_id=row.image_id,
        flavor_id=row.flavor_id,
        availability_zone=row.availability_zone,
        host_id=row.host_id,
        vm_state=VmState(row.vm_state),
        task_state=TaskState(row.task_state) if row.task_state else None,
        key_name=row.key_name,
        fault=row.fault,
        metadata=dict(row.metadata or {}),
        current_job_id=row.current_job_id,
        created=row.created,
        updated=row.updated,
        version=row.version,
    )


def _columns(change: ServerChange) -> dict[str, Any]:
    vals: dict[str, Any] = {}
    if change.vm_state is not KEEP:
        vals["vm_state"] = change.vm_state.value
    if change.task_state is not KEEP:
        vals["task_state"] = change.task_state.value if change.task_state else None
    for name in ("current_job_id", "fault", "key_name", "image_id", "name", "metadata"):
        value = getattr(change, name)
        if value is not KEEP:
            vals[name] = value
    if change.pending_boot_config is not KEEP:
        pending = change.pending_boot_config
        vals["pending_boot_config"] = pending.to_json() if pending is not None else None
    if change.promote_pending_boot:
        # SQL reads the right-hand side before the row changes: the old pending config.
        vals["boot_config"] = t.servers.c.pending_boot_config
    return vals


def _volume(row: Any) -> Volume:
    return Volume(
        id=row.id,
        project_id=row.project_id,
        server_id=row.server_id,
        device=row.device,
        boot_index=row.boot_index,
        size_gb=row.size_gb,
        volume_type=row.volume_type,
        status=row.status,
        image_id=row.image_id,
        encrypted=bool(row.encrypted),
        cmk_id=row.cmk_id,
        created=row.created,
    )


class ServerRepo:
    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._c = conn
        self._changes = changes if changes is not None else Changes()

    def get(self, server_id: str, project_id: str | None = None) -> Server | None:
        if project_id is None:
            row = self._c.execute(_SERVER, {"id": server_id}).first()
        else:
            row = self._c.execute(
                _SERVER_IN_PROJECT, {"id": server_id, "project_id": project_id}
            ).first()
        return _server(row) if row else None

    def list(
        self,
        project_id: str,
        *,
        limit: int,
        offset: int,
        status: str | None,
        name: str | None,
        flavor: str | None = None,
        ip: str | None = None,
    ) -> tuple[list[Server], int]:
        c = t.servers.c
        rebuild = c.task_state.in_([ts.value for ts in REBUILD_TASK_STATES])
        not_rebuild = or_(c.task_state.is_(None), ~rebuild)
        conds: list[ColumnElement[bool]] = [c.project_id == project_id]
        if status is not None:
            by_status: dict[str, ColumnElement[bool]] = {
                "REBUILD": rebuild,
                "ACTIVE": and_(c.vm_state == VmState.ACTIVE.value, not_rebuild),
                "SHUTOFF": and_(c.vm_state == VmState.STOPPED.value, not_rebuild),
                "ERROR": and_(c.vm_state == VmState.ERROR.value, not_rebuild),
                "BUILD": and_(c.vm_state == VmState.BUILDING.value, not_rebuild),
            }
            conds.append(by_status.get(status, c.id.is_(None)))
        if name:
            conds.append(c.name.contains(name, autoescape=True))
        if flavor:
            conds.append(c.flavor_id == flavor)
        if ip:
            # The API documents a fuzzy match on the server's IPv4 addresses.
            with_ip = select(t.ports.c.server_id).where(
                t.ports.c.ip_address.contains(ip, autoescape=True)
            )
            conds.append(c.id.in_(with_ip))
        total = self._c.execute(
            select(func.count()).select_from(t.servers).where(*conds)
        ).scalar_one()
        rows = self._c.execute(
            select(t.servers)
            .where(*conds)
            .order_by(c.created.desc(), c.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return [_server(r) for r in rows], int(total)

    def hosts_of(self, server_ids: Sequence[str]) -> dict[str, str]:
        """The host of each of these servers that exists (one query)."""
        if not server_ids:
            return {}
        c = t.servers.c
        rows = self._c.execute(select(c.id, c.host_id).where(c.id.in_(list(set(server_ids)))))
        return {r.id: r.host_id for r in rows}

    def list_all(self) -> Sequence[Server]:
        """Every server of every project (for host-side reconciliation, not the API)."""
        rows = self._c.execute(select(t.servers).order_by(t.servers.c.id)).all()
        return [_server(r) for r in rows]

    def boot_config(self, server_id: str, *, pending: bool = False) -> BootConfig | None:
        col = t.servers.c.pending_boot_config if pending else t.servers.c.boot_config
        value = self._c.execute(select(col).where(t.servers.c.id == server_id)).scalar_one_or_none()
        return BootConfig.from_json(value)

    def add(self, server: Server, *, boot_config: BootConfig | None = None) -> None:
        """Insert a new server (a create request's, in BUILD under its job)."""
        self._c.execute(
            insert(t.servers).values(
                id=server.id,
                project_id=server.project_id,
                user_id=server.user_id,
                name=server.name,
                image_id=server.image_id,
                flavor_id=server.flavor_id,
                availability_zone=server.availability_zone,
                host_id=server.host_id,
                vm_state=server.vm_state.value,
                task_state=server.task_state.value if server.task_state else None,
                key_name=server.key_name,
                fault=server.fault,
                metadata=server.metadata,
                current_job_id=server.current_job_id,
                boot_config=boot_config.to_json() if boot_config is not None else None,
                created=server.created,
                updated=server.updated,
                version=0,
            )
        )
        self._changes.servers.add(server.id)

    def apply(
        self,
        server_id: str,
        change: ServerChange,
        *,
        updated: str,
        owner_job: str | None = None,
        idle_at_version: int | None = None,
    ) -> bool:
        """Apply ``change`` only while job ``owner_job`` owns the server, or (to claim it) while
        it is idle at ``idle_at_version``; return whether it was applied."""
        c = t.servers.c
        vals = _columns(change)
        if owner_job is not None and idle_at_version is None and not change.promote_pending_boot:
            # A running job's step: the shape the runner repeats, built once.
            res = self._c.execute(
                _SERVER_OWNED, {**vals, "updated": updated, "_id": server_id, "_job": owner_job}
            )
        else:
            conds: list[ColumnElement[bool]] = [c.id == server_id]
            if owner_job is not None:
                conds.append(c.current_job_id == owner_job)
            if idle_at_version is not None:
                conds += [c.task_state.is_(None), c.version == idle_at_version]
            res = self._c.execute(
                update(t.servers).where(*conds).values(**vals, updated=updated, version=c.version + 1)
            )
        if res.rowcount != 1:
            return False
        self._changes.servers.add(server_id)
        return True

    def delete_owned(self, server_id: str, *, job_id: str) -> bool:
        """Delete the server only while ``job_id`` owns it; return whether it was deleted."""
        res = self._c.execute(
            delete(t.servers).where(
                t.servers.c.id == server_id, t.servers.c.current_job_id == job_id
            )
        )
        if res.rowcount != 1:
            return False
        self._changes.servers.add(server_id)
        return True

    def place(self, server_id: str, host_id: str, *, job_id: str) -> bool:
        """Record the host a server is built on, only while ``job_id`` owns it."""
        res = self._c.execute(
            update(t.servers)
            .where(t.servers.c.id == server_id, t.servers.c.current_job_id == job_id)
            .values(host_id=host_id)
        )
        if res.rowcount != 1:
            return False
        self._changes.servers.add(server_id)
        return True


class VolumeRepo:
    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._c = conn
        self._changes = changes if changes is not None else Changes()

    def _touch_holder(self, volume_id: str) -> None:
        # Attaching, detaching or deleting a disk changes how its server is shown.
        holder = self._c.execute(
            select(t.volumes.c.server_id).where(t.volumes.c.id == volume_id)
        ).scalar_one_or_none()
        if holder is not None:
            self._changes.servers.add(holder)

    def get(self, volume_id: str, project_id: str | None = None) -> Volume | None:
        if project_id is None:
            row = self._c.execute(_VOLUME, {"id": volume_id}).first()
        else:
            q = select(t.volumes).where(
                t.volumes.c.id == volume_id, t.volumes.c.project_id == project_id
            )
            row = self._c.execute(q).first()
        return _volume(row) if row else None

    def ids_of(
        self,
        project_id: str,
        *,
        status: str | None = None,
        ids: Sequence[str] | None = None,
        server_id: str | None = None,
        sort_key: str = "created",
        descending: bool = True,
    ) -> list[str]:
        """The project's volume ids matching the filters, in the order asked (then by id)."""
        c = t.volumes.c
        conds: list[ColumnElement[bool]] = [c.project_id == project_id]
        if status is not None:
            conds.append(c.status == status)
        if ids is not None:
            conds.append(c.id.in_(list(ids)))
        if server_id is not None:
            conds.append(c.server_id == server_id)
        key = c[sort_key]
        order = (key.desc(), c.id.desc()) if descending else (key.asc(), c.id.asc())
        return list(self._c.execute(select(c.id).where(*conds).order_by(*order)).scalars())

    def many(self, volume_ids: Sequence[str]) -> list[Volume]:
        """The volumes with these ids, in the order given (ids without a volume are skipped)."""
        if not volume_ids:
            return []
        rows = self._c.execute(select(t.volumes).where(t.volumes.c.id.in_(list(volume_ids))))
        found = {r.id: _volume(r) for r in rows}
        return [found[i] for i in volume_ids if i in found]

    def claim_detached(
        self, volume_id: str, *, project_id: str, expected: Sequence[str], status: str
    ) -> bool:
        """Set ``status`` only while the volume is detached and in one of ``expected``."""
        res = self._c.execute(
            update(t.volumes)
            .where(
                t.volumes.c.id == volume_id,
                t.volumes.c.project_id == project_id,
                t.volumes.c.server_id.is_(None),
                t.volumes.c.status.in_(list(expected)),
            )
            .values(status=status)
        )
        return res.rowcount == 1

    def set_status(self, volume_id: str, status: str, *, expected: str) -> bool:
        """Set ``status`` only while the volume is ``expected``; return whether it was set."""
        res = self._c.execute(
            update(t.volumes)
            .where(t.volumes.c.id == volume_id, t.volumes.c.status == expected)
            .values(status=status)
        )
        return res.rowcount == 1

    def delete_if(self, volume_id: str, *, status: str) -> bool:
        """Delete the volume only while it is ``status``; return whether it was deleted."""
        res = self._c.execute(
            delete(t.volumes).where(t.volumes.c.id == volume_id, t.volumes.c.status == status)
        )
        return res.rowcount == 1

    def attached_to(self, server_ids: Sequence[str]) -> dict[str, list[Volume]]:
        out: dict[str, list[Volume]] = {sid: [] for sid in server_ids}
        if not server_ids:
            return out
        rows = self._c.execute(_VOLUMES_OF, {"ids": list(server_ids)}).all()
        for r in rows:
            out[r.server_id].append(_volume(r))
        return out

    def system_disk(self, server_id: str) -> Volume | None:
        row = self._c.execute(
            select(t.volumes).where(t.volumes.c.server_id == server_id, t.volumes.c.boot_index == 0)
        ).first()
        return _volume(row) if row else None

    def list_all(self) -> list[Volume]:
        """Every volume of every project (for host-side reconciliation, not the API)."""
        rows = self._c.execute(select(t.volumes).order_by(t.volumes.c.id)).all()
        return [_volume(r) for r in rows]

    def add(self, v: Volume) -> bool:
        """Insert the volume unless a row with its id exists; return whether it was inserted."""
        if self.get(v.id) is not None:
            return False
        self._c.execute(
            insert(t.volumes).values(
                id=v.id,
                project_id=v.project_id,
                server_id=v.server_id,
                device=v.device,
                boot_index=v.boot_index,
                size_gb=v.size_gb,
                volume_type=v.volume_type,
                status=v.status,
                image_id=v.image_id,
                encrypted=v.encrypted,
                cmk_id=v.cmk_id,
                created=v.created,
            )
        )
        return True

    def set_attachment(
        self, volume_id: str, *, server_id: str | None, device: str | None, boot_index: int | None
    ) -> None:
        self._touch_holder(volume_id)
        if server_id is not None:
            self._changes.servers.add(server_id)
        self._c.execute(
            update(t.volumes)
            .where(t.volumes.c.id == volume_id)
            .values(
                server_id=server_id,
                device=device,
                boot_index=boot_index,
                status="in-use" if server_id else "available",
            )
        )

    def delete(self, volume_id: str) -> None:
        self._touch_holder(volume_id)
        self._c.execute(delete(t.volumes).where(t.volumes.c.id == volume_id))


def _sub_job(row: Any) -> SubJob:
    return SubJob(
        id=row.id,
        job_id=row.job_id,
        seq=row.seq,
        job_type=row.job_type,
        server_id=row.server_id,
        status=JobStatus(row.status),
        begin_time=row.begin_time,
        end_time=row.end_time,
        error_code=row.error_code,
        fail_reason=row.fail_reason,
    )


# Job columns GET /jobs shows: a write to any other (lease, phase) is not an event.
_JOB_VIEW_COLUMNS = frozenset({"status", "begin_time", "end_time", "error_code", "fail_reason"})


class JobRepo:
    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._c = conn
        self._changes = changes if changes is not None else Changes()

    def add(self, job: Job) -> None:
        self._c.execute(
            insert(t.jobs).values(
                id=job.id,
                project_id=job.project_id,
                job_type=job.job_type.value,
                status=job.status.value,
                server_id=job.server_id,
                host_id=job.host_id,
                phase=job.phase.value,
                params=job.params,
                created=job.created,
            )
        )
        self._changes.jobs.add(job.id)
        if job.sub_jobs:
            self._c.execute(
                insert(t.sub_jobs),
                [
                    {
                        "id": s.id,
                        "job_id": job.id,
                        "seq": s.seq,
                        "job_type": s.job_type,
                        "server_id": s.server_id,
                        "status": s.status.value,
                    }
                    for s in job.sub_jobs
                ],
            )
        if self._c.dialect.name == "postgresql":
            # Delivered at commit: idle workers wake at once instead of at their next poll.
            self._c.execute(select(func.pg_notify(JOBS_CHANNEL, job.id)))

    def bind_host(self, job_id: str, host_id: str) -> None:
        """Bind a job that is bound to no host yet to ``host_id`` (only its runners resume it)."""
        self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.host_id.is_(None))
            .values(host_id=host_id)
        )

    def get(self, job_id: str, project_id: str | None = None) -> Job | None:
        if project_id is None:
            row = self._c.execute(_JOB, {"id": job_id}).first()
        else:
            row = self._c.execute(_JOB_IN_PROJECT, {"id": job_id, "project_id": project_id}).first()
        if row is None:
            return None
        subs = self._c.execute(_SUB_JOBS, {"job_id": job_id}).all()
        return Job(
            id=row.id,
            project_id=row.project_id,
            job_type=JobType(row.job_type),
            status=JobStatus(row.status),
            server_id=row.server_id,
            params=dict(row.params or {}),
            created=row.created,
            host_id=row.host_id,
            phase=Phase(row.phase),
            begin_time=row.begin_time,
            end_time=row.end_time,
            error_code=row.error_code,
            fail_reason=row.fail_reason,
            sub_jobs=tuple(_sub_job(s) for s in subs),
        )

    def recent(
        self, project_id: str, *, server_id: str | None = None, limit: int = 20
    ) -> list[Job]:
        """Return the project's newest jobs (optionally one server's), newest first."""
        q = select(t.jobs.c.id).where(t.jobs.c.project_id == project_id)
        if server_id is not None:
            q = q.where(t.jobs.c.server_id == server_id)
        ids = (
            self._c.execute(q.order_by(t.jobs.c.created.desc(), t.jobs.c.id.desc()).limit(limit))
            .scalars()
            .all()
        )
        return [job for job in (self.get(i, project_id) for i in ids) if job is not None]

    def claim_next(
        self, *, owner: str, now: float, lease_seconds: float, host_id: str | None = None
    ) -> str | None:
        """Lease the oldest unfinished job whose lease is free or expired; return its id.

        A worker bound to ``host_id`` takes only that host's jobs and jobs bound to no host.
        """
        free = or_(t.jobs.c.lease_expires.is_(None), t.jobs.c.lease_expires < now)
        runnable = and_(t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]), free)
        if host_id is not None:
            runnable = and_(runnable, or_(t.jobs.c.host_id.is_(None), t.jobs.c.host_id == host_id))
        q = select(t.jobs.c.id).where(runnable).order_by(t.jobs.c.created, t.jobs.c.id).limit(1)
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        job_id = self._c.execute(q).scalar_one_or_none()
        if job_id is None:
            return None
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, runnable)
            .values(lease_owner=owner, lease_expires=now + lease_seconds)
        )
        return job_id if res.rowcount == 1 else None

    def renew_leases(self, *, owner: str, job_ids: Sequence[str], until: float) -> None:
        if job_ids:
            self._c.execute(
                update(t.jobs)
                .where(t.jobs.c.id.in_(list(job_ids)), t.jobs.c.lease_owner == owner)
                .values(lease_expires=until)
            )

    def release_all_leases(self) -> int:
        res = self._c.execute(
            update(t.jobs)
            .where(t.jobs.c.lease_owner.is_not(None))
            .values(lease_owner=None, lease_expires=None)
        )
        return int(res.rowcount)

    def cas(
        self,
        job_id: str,
        *,
        owner: str | None,
        expected: Mapping[str, Any],
        values: Mapping[str, Any],
    ) -> bool:
        vals = {k: getattr(v, "value", v) for k, v in values.items()}
        if owner is not None and not expected and vals:
            # The runner's check of its lease at every step: the one shape worth building once.
            res = self._c.execute(_JOB_OWNED, {**vals, "_id": job_id, "_owner": owner})
        else:
            conds = _conds(t.jobs, {k: getattr(v, "value", v) for k, v in expected.items()})
            if owner is not None:
                conds.append(t.jobs.c.lease_owner == owner)
            res = self._c.execute(
                update(t.jobs).where(t.jobs.c.id == job_id, *conds).values(**vals)
            )
        if res.rowcount != 1:
            return False
        if not _JOB_VIEW_COLUMNS.isdisjoint(vals):
            self._changes.jobs.add(job_id)
        return True

    def update_sub_job(self, job_id: str, sub_id: str, **values: Any) -> None:
        vals = {k: getattr(v, "value", v) for k, v in values.items()}
        self._c.execute(_SUB_JOB, {**vals, "_id": sub_id})
        self._changes.jobs.add(job_id)

    def purge_finished(self, *, ended_before: str) -> int:
        """Delete SUCCESS/FAIL jobs (and their sub-jobs) that ended before the ISO time."""
        old = select(t.jobs.c.id).where(
            t.jobs.c.status.in_([JobStatus.SUCCESS.value, JobStatus.FAIL.value]),
            t.jobs.c.end_time < ended_before,
        )
        self._c.execute(delete(t.sub_jobs).where(t.sub_jobs.c.job_id.in_(old)))
        res = self._c.execute(delete(t.jobs).where(t.jobs.c.id.in_(old)))
        return int(res.rowcount)

    def unfinished(self, project_id: str) -> list[str]:
        """Ids of the project's jobs not yet SUCCESS or FAIL, oldest first."""
        return list(
            self._c.execute(
                select(t.jobs.c.id)
                .where(
                    t.jobs.c.project_id == project_id,
                    t.jobs.c.status.in_([JobStatus.INIT.value, JobStatus.RUNNING.value]),
                )
                .order_by(t.jobs.c.created, t.jobs.c.id)
            ).scalars()
        )


class CatalogRepo:
    """Read access to identity, images, key pairs and KMS keys; writes used by seeding."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def project(self, project_id: str) -> Project | None:
        row = self._c.execute(select(t.projects).where(t.projects.c.id == project_id)).first()
        return Project(row.id, row.name, row.domain_id, row.region) if row else None

    def user(self, user_id: str) -> User | None:
        row = self._c.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return User(row.id, row.name, row.domain_id) if row else None

    def image(self, image_id: str) -> Image | None:
        row = self._c.execute(_IMAGE, {"id": image_id}).first()
        return _image(row) if row else None

    def images(self, project_id: str) -> list[Image]:
        """The public images and the project's own, by name then id."""
        c = t.images.c
        rows = self._c.execute(
            select(t.images)
            .where(or_(c.project_id.is_(None), c.project_id == project_id))
            .order_by(c.name, c.id)
        ).all()
        return [_image(r) for r in rows]

    def kms_key(self, key_id: str, project_id: str) -> KmsKey | None:
        row = self._c.execute(
            select(t.kms_keys).where(
                t.kms_keys.c.id == key_id, t.kms_keys.c.project_id == project_id
            )
        ).first()
        return KmsKey(row.id, row.project_id, row.alias, row.state) if row else None

    def kms_keys(self, project_id: str) -> list[KmsKey]:
        rows = self._c.execute(
            select(t.kms_keys)
            .where(t.kms_keys.c.project_id == project_id)
            .order_by(t.kms_keys.c.alias)
        ).all()
        return [KmsKey(r.id, r.project_id, r.alias, r.state) for r in rows]

    def keypair(self, user_id: str, name: str) -> Keypair | None:
        row = self._c.execute(
            select(t.keypairs).where(t.keypairs.c.user_id == user_id, t.keypairs.c.name == name)
        ).first()
        return _keypair(row) if row else None

    def keypairs(self, user_id: str) -> list[Keypair]:
        rows = self._c.execute(
            select(t.keypairs).where(t.keypairs.c.user_id == user_id).order_by(t.keypairs.c.name)
        ).all()
        return [_keypair(r) for r in rows]

    def add_keypair(self, kp: Keypair) -> None:
        self._c.execute(
            insert(t.keypairs).values(
                user_id=kp.user_id,
                name=kp.name,
                public_key=kp.public_key,
                fingerprint=kp.fingerprint,
                type=kp.type,
                created=kp.created,
            )
        )

    def delete_keypair(self, user_id: str, name: str) -> bool:
        res = self._c.execute(
            delete(t.keypairs).where(t.keypairs.c.user_id == user_id, t.keypairs.c.name == name)
        )
        return res.rowcount == 1


def _keypair(row: Any) -> Keypair:
    return Keypair(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        public_key=row.public_key,
        fingerprint=row.fingerprint,
        type=row.type,
        created=row.created,
    )


class FaultRepo:
    """Failure injection for the sim driver: a step fails while its fault has uses left."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(
        self, *, step: str, server_id: str | None, times: int, error_code: str, message: str
    ) -> int:
        res = self._c.execute(
            insert(t.sim_faults).values(
                step=step,
                server_id=server_id,
                remaining=times,
                error_code=error_code,
                message=message,
            )
        )
        pk = res.inserted_primary_key
        return int(pk[0]) if pk else 0

    def take(self, *, step: str, server_id: str) -> tuple[str, str] | None:
        row = self._c.execute(_FAULT, {"step": step, "server": server_id}).first()
        if row is None:
            return None
        self._c.execute(
            update(t.sim_faults)
            .where(t.sim_faults.c.id == row.id)
            .values(remaining=row.remaining - 1)
        )
        return row.error_code, row.message

    def pending(self) -> bool:
        row = self._c.execute(
            select(t.sim_faults.c.id).where(t.sim_faults.c.remaining > 0).limit(1)
        ).first()
        return row is not None

    def list(self) -> list[dict[str, Any]]:
        rows = self._c.execute(select(t.sim_faults).order_by(t.sim_faults.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def clear(self) -> None:
        self._c.execute(delete(t.sim_faults))


class ClientTokenRepo:
    """Idempotency tokens: which job a (project, X-Client-Token) pair created."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, project_id: str, token: str) -> tuple[str, str] | None:
        row = self._c.execute(
            select(t.client_tokens.c.fingerprint, t.client_tokens.c.job_id).where(
                t.client_tokens.c.project_id == project_id, t.client_tokens.c.token == token
            )
        ).first()
        return (row.fingerprint, row.job_id) if row else None

    def add(
        self, *, project_id: str, token: str, fingerprint: str, job_id: str, now: float
    ) -> None:
        self._c.execute(
            insert(t.client_tokens).values(
                project_id=project_id,
                token=token,
                fingerprint=fingerprint,
                job_id=job_id,
                created_at=now,
            )
        )

    def purge(self, *, before: float) -> int:
        res = self._c.execute(delete(t.client_tokens).where(t.client_tokens.c.created_at < before))
        return int(res.rowcount)
