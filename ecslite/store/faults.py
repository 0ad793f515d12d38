"""Failure injection for the sim driver: a step fails while its fault has uses left."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from ecslite.store import tables as t

# Built once (see servers.py): looked up at every step boundary the runner commits.
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


class FaultRepo:
    """Faults by step (and optionally server), each with a number of uses."""

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

    def list(self) -> list[dict[str, Any]]:
        rows = self._c.execute(select(t.sim_faults).order_by(t.sim_faults.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def clear(self) -> None:
        self._c.execute(delete(t.sim_faults))
