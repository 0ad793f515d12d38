"""Time and identifiers, behind small seams so tests can pin them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime


class Clock:
    def now(self) -> float:
        return time.time()

    def iso(self, *, millis: bool = True) -> str:
        """Return the current UTC time as the API prints it (``2016-04-25T20:04:47.591Z``)."""
        dt = datetime.fromtimestamp(self.now(), tz=UTC)
        if millis:
            return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_job_id() -> str:
    return uuid.uuid4().hex


def new_uuid() -> str:
    return str(uuid.uuid4())
