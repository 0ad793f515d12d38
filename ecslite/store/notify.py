"""Wake other processes through PostgreSQL LISTEN/NOTIFY: runners when a job is accepted,
event streams when events are committed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from ecslite.store.jobs import JOBS_CHANNEL

log = logging.getLogger("ecslite.jobs")


def start_listener(
    database_url: str,
    on_job: Callable[[], None],
    stop: threading.Event,
    *,
    channel: str = JOBS_CHANNEL,
) -> threading.Thread | None:
    """Call ``on_job`` on each notification on ``channel`` (default: a job was added).

    A no-op (None) for stores without notifications.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    import psycopg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def loop() -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {channel}")
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            on_job()
            except Exception as exc:  # the database restarts: reconnect, polling covers the gap
                log.warning(
                    "notification listener reconnecting channel=%s error=%s",
                    channel,
                    type(exc).__name__,
                )
                stop.wait(1.0)

    th = threading.Thread(target=loop, name=f"ecslite-listen-{channel}", daemon=True)
    th.start()
    return th
