"""Servers: reads for the API and the event stream, and compare-and-swap writes.

A server's state changes only while the caller owns it (the job that holds it, or a claim
against the idle version it read): the return value says whether the write happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement

from ecslite.domain.boot import BootConfig
from ecslite.domain.codec import decode, encode
from ecslite.domain.server import (
    BUILD_TASK_STATES,
    REBUILD_TASK_STATES,
    Server,
    TaskState,
    VmState,
)
from ecslite.domain.transitions import KEEP, ServerChange
from ecslite.store import server_context
from ecslite.store import tables as t
from ecslite.store.changes import Changes
from ecslite.store.server_context import ServerContext

# The reads behind every event and GET, built once: a statement object memoizes its cache key,
# so executing it again skips construction and cache-key generation (about two thirds of
# SQLAlchemy's cost per small statement here). Values go in as bound parameters.
_SERVER = select(t.servers).where(t.servers.c.id == bindparam("id"))
_SERVER_IN_PROJECT = _SERVER.where(t.servers.c.project_id == bindparam("project_id"))
# A job's change of its own server, built once the same way; the ServerChange's columns come
# with the parameters (an UPDATE without values() for them sets the columns its parameters name).
_SERVER_OWNED = (
    update(t.servers)
    .where(t.servers.c.id == bindparam("_id"), t.servers.c.current_job_id == bindparam("_job"))
    .values(version=t.servers.c.version + 1)
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
        access_ipv4=row.access_ipv4,
        access_ipv6=row.access_ipv6,
        description=row.description,
        locked=bool(row.locked),
        tags=tuple(row.tags or ()),
        default_security_group=bool(row.default_security_group),
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
        vals["pending_boot_config"] = encode(pending) if pending is not None else None
    if change.promote_pending_boot:
        # SQL reads the right-hand side before the row changes: the old pending config.
        vals["boot_config"] = t.servers.c.pending_boot_config
    return vals


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

    def get_for_update(self, server_id: str, project_id: str) -> Server | None:
        """The project's server, its row locked until the transaction ends (PostgreSQL; SQLite
        writers are serialised already): a read-modify-write of its metadata or tags loses no
        concurrent change."""
        row = self._c.execute(
            select(t.servers)
            .where(t.servers.c.id == server_id, t.servers.c.project_id == project_id)
            .with_for_update()
        ).first()
        return _server(row) if row else None

    def in_context(self, server_id: str, project_id: str | None = None) -> ServerContext | None:
        """The server with its image, flavor and user data, in one statement."""
        return server_context.read(self._c, server_id, project_id, _server)

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
        image: str | None = None,
        name_regex: str | None = None,
        changed_since: str | None = None,
        ip6: str | None = None,
        tags: Sequence[str] = (),
        tags_any: Sequence[str] = (),
        not_tags: Sequence[str] = (),
        not_tags_any: Sequence[str] = (),
    ) -> tuple[list[Server], int]:
        c = t.servers.c
        rebuild = c.task_state.in_([ts.value for ts in REBUILD_TASK_STATES])
        building = c.task_state.in_([ts.value for ts in BUILD_TASK_STATES])
        not_rebuild = or_(c.task_state.is_(None), ~rebuild)
        settled = or_(c.task_state.is_(None), ~or_(rebuild, building))
        conds: list[ColumnElement[bool]] = [c.project_id == project_id]
        if status is not None:
            by_status: dict[str, ColumnElement[bool]] = {
                "REBUILD": rebuild,
                "ACTIVE": and_(c.vm_state == VmState.ACTIVE.value, settled),
                "SHUTOFF": and_(c.vm_state == VmState.STOPPED.value, not_rebuild),
                "ERROR": and_(c.vm_state == VmState.ERROR.value, not_rebuild),
                "BUILD": or_(and_(c.vm_state == VmState.BUILDING.value, not_rebuild), building),
            }
            conds.append(by_status.get(status, c.id.is_(None)))
        if name:
            conds.append(c.name.contains(name, autoescape=True))
        if name_regex:
            # A search, not a full match, as Nova's; SQLite gets Python's re from SQLAlchemy.
            conds.append(c.name.regexp_match(name_regex))
        if changed_since:
            # Stored times share one format (``2026-12-06T19:40:00Z``), so text order is time order.
            conds.append(c.updated >= changed_since)
        if ip6:
            conds.append(c.id.is_(None))  # no server has an IPv6 fixed address
        if flavor:
            conds.append(c.flavor_id == flavor)
        if image:
            conds.append(c.image_id == image)
        if ip:
            # The API documents a fuzzy match on the server's IPv4 addresses.
            with_ip = select(t.ports.c.server_id).where(
                t.ports.c.ip_address.contains(ip, autoescape=True)
            )
            conds.append(c.id.in_(with_ip))
        conds.extend(self._tag_conditions(tags, tags_any, not_tags, not_tags_any))
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

    def _tag_conditions(
        self,
        tags: Sequence[str],
        tags_any: Sequence[str],
        not_tags: Sequence[str],
        not_tags_any: Sequence[str],
    ) -> Sequence[ColumnElement[bool]]:
        """Nova's tag filters: all of ``tags``, one of ``tags_any``, not all of ``not_tags``,
        none of ``not_tags_any`` (an empty list asks nothing)."""
        # Each tag is tested by an EXISTS over the server's JSON list, read as rows by the
        # database's own JSON function (a text match on the JSON would depend on its encoding).
        tags_column = t.servers.c.tags
        if self._c.dialect.name == "postgresql":
            # An untagged server's tags may be JSON null, on which PostgreSQL's function fails.
            array = case(
                (func.json_typeof(tags_column) == "array", tags_column),
                else_=cast(literal("[]"), JSON),
            )
            elements = func.json_array_elements_text(array).table_valued("value")
        else:
            elements = func.json_each(tags_column).table_valued("value")

        def has(tag: str) -> ColumnElement[bool]:
            return exists(select(literal(1)).select_from(elements).where(elements.c.value == tag))

        out = [has(tag) for tag in tags]
        if tags_any:
            out.append(or_(*(has(tag) for tag in tags_any)))
        if not_tags:
            out.append(~and_(*(has(tag) for tag in not_tags)))
        if not_tags_any:
            out.append(~or_(*(has(tag) for tag in not_tags_any)))
        return out

    def hosts_of(self, server_ids: Sequence[str]) -> dict[str, str]:
        """The host of each of these servers that exists (one query)."""
        if not server_ids:
            return {}
        c = t.servers.c
        rows = self._c.execute(select(c.id, c.host_id).where(c.id.in_(list(set(server_ids)))))
        return {r.id: r.host_id for r in rows}

    def count_on_host(self, host_id: str, vm_state: str) -> int:
        """Servers of the host in that state (metrics: guests running per host)."""
        c = t.servers.c
        return int(
            self._c.execute(
                select(func.count()).where(c.host_id == host_id, c.vm_state == vm_state)
            ).scalar_one()
        )

    def list_all(self) -> Sequence[Server]:
        """Every server of every project (for host-side reconciliation, not the API)."""
        rows = self._c.execute(select(t.servers).order_by(t.servers.c.id)).all()
        return [_server(r) for r in rows]

    def boot_config(self, server_id: str, *, pending: bool = False) -> BootConfig | None:
        col = t.servers.c.pending_boot_config if pending else t.servers.c.boot_config
        value = self._c.execute(select(col).where(t.servers.c.id == server_id)).scalar_one_or_none()
        return decode(BootConfig, value) if value else None

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
                boot_config=encode(boot_config) if boot_config is not None else None,
                created=server.created,
                updated=server.updated,
                version=0,
                access_ipv4=server.access_ipv4,
                access_ipv6=server.access_ipv6,
                description=server.description,
                locked=server.locked,
                tags=list(server.tags) or None,
                default_security_group=server.default_security_group,
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
                update(t.servers)
                .where(*conds)
                .values(**vals, updated=updated, version=c.version + 1)
            )
        if res.rowcount != 1:
            return False
        self._changes.servers.add(server_id)
        return True

    def set_attributes(
        self, server_id: str, project_id: str, values: dict[str, object], *, updated: str
    ) -> bool:
        """Set the server's name, access addresses, description, lock, metadata, tags or group,
        whatever its state: they change nothing a running job relies on, so no claim is needed
        and the version stays (a concurrent claim is not refused for it; a lock stops the next
        operation)."""
        allowed = {
            "name",
            "access_ipv4",
            "access_ipv6",
            "description",
            "locked",
            "metadata",
            "tags",
            "default_security_group",
        }
        assert allowed.issuperset(values), values
        res = self._c.execute(
            update(t.servers)
            .where(t.servers.c.id == server_id, t.servers.c.project_id == project_id)
            .values(**values, updated=updated)
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
        self._c.execute(delete(t.allocations).where(t.allocations.c.server_id == server_id))
        self._changes.servers.add(server_id)
        return True

    def owned_by(self, job_id: str) -> Sequence[str]:
        """The servers job ``job_id`` is working on."""
        c = t.servers.c
        return list(
            self._c.execute(select(c.id).where(c.current_job_id == job_id).order_by(c.id)).scalars()
        )

    def reassign(self, server_ids: Sequence[str], *, from_job: str, to_job: str) -> None:
        """Hand servers owned by ``from_job`` to ``to_job`` (a job's part on their host)."""
        if server_ids:
            self._c.execute(
                update(t.servers)
                .where(t.servers.c.id.in_(list(server_ids)), t.servers.c.current_job_id == from_job)
                .values(current_job_id=to_job)
            )

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
