"""Volumes (system and data disks): reads, attachment, and status writes guarded by the
status the caller expects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.sql import ColumnElement

from ecslite.domain.server import Volume
from ecslite.store import tables as t
from ecslite.store.changes import Changes

# Built once (see servers.py): read for every server body the API or the event stream shows.
_VOLUME = select(t.volumes).where(t.volumes.c.id == bindparam("id"))
_VOLUMES_OF = (
    select(t.volumes)
    .where(t.volumes.c.server_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.volumes.c.boot_index.is_(None), t.volumes.c.boot_index, t.volumes.c.device)
)


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
        host_id=row.host_id,
    )


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
                host_id=v.host_id,
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
