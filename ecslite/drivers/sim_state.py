"""The sim driver's host state, kept where every process of the host sees it.

A real host's state (which guests run, which disk is attached where) outlives any one process
and is the same for every process on the host; the sim's must be too, or two workers of one
host disagree (one refuses to delete a disk the other detached) and a restarted worker
forgets its own guests. It is a small SQLite file in the host's data dir, one transaction
(``BEGIN IMMEDIATE``: one writer across processes) per driver call; without a path it lives in
memory (unit tests, a single process).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_MISSING = object()


class HostState:
    """Maps per kind (``running``, ``holder``, ``system``): key → value or None (known empty)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            timeout=30.0,
            isolation_level=None,
            check_same_thread=False,
        )
        self._lock = threading.Lock()
        self._db.execute(
            "PRAGMA journal_mode=WAL" if path is not None else "PRAGMA journal_mode=MEMORY"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS state (kind TEXT NOT NULL, key TEXT NOT NULL, "
            "value TEXT, PRIMARY KEY (kind, key))"
        )

    @contextmanager
    def transaction(self) -> Iterator[Txn]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Txn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Txn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, kind: str, key: str, default: object = _MISSING) -> object:
        row = self._db.execute(
            "SELECT value FROM state WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        if row is None:
            return default
        return row[0]

    def set(self, kind: str, key: str, value: str | None) -> None:
        self._db.execute(
            "INSERT INTO state (kind, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
            (kind, key, value),
        )

    def pop(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))

    def items(self, kind: str) -> list[tuple[str, str | None]]:
        return [
            (r[0], r[1])
            for r in self._db.execute("SELECT key, value FROM state WHERE kind = ?", (kind,))
        ]

    def keys_with(self, kind: str, value: str) -> list[str]:
        return [
            r[0]
            for r in self._db.execute(
                "SELECT key FROM state WHERE kind = ? AND value = ?", (kind, value)
            )
        ]
