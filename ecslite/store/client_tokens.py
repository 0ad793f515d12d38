"""Idempotency tokens: which job a (project, X-Client-Token) pair created."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from ecslite.store import tables as t


class ClientTokenRepo:
    """The job each (project, X-Client-Token) pair created, kept for a while."""

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
