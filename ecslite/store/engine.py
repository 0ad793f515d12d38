"""Create the SQLAlchemy engine for a database URL, with SQLite made safe for threads."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (it holds sealed keys and hashes).

    SQLite gives its -wal and -shm files the main file's permissions, so they follow.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if os.stat(database).st_mode & 0o077:
        os.chmod(database, 0o600)

# Writers to one SQLite engine queue on this lock before BEGIN IMMEDIATE. Without it, a writer
# that finds the database locked is put to sleep by SQLite's busy handler and retries after 1,
# 2, 5, 10 ... 100 ms, whether or not the lock was freed meanwhile; with the job runner's and the
# API's threads all writing, that polling made up the tail latency. A Python lock hands over as
# soon as the previous writer is done. Reentrant, so a nested writer in one thread still meets
# SQLite's busy timeout as before instead of deadlocking.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> threading.RLock | None:
    """Return the lock writers on ``engine`` hold for their transaction (SQLite only)."""
    return _WRITE_LOCKS.get(engine)


def make_engine(url: str) -> Engine:
    """Return an engine; for SQLite, WAL mode, a busy timeout and explicit transactions.

    SQLite transactions start with ``BEGIN IMMEDIATE`` when the connection is tagged for
    writing, so two writers queue on the lock instead of failing when a deferred
    transaction tries to upgrade from a stale read snapshot.
    """
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            if conn.get_execution_options().get("ecslite_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        _WRITE_LOCKS[engine] = threading.RLock()
        return engine
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
