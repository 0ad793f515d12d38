"""Crash points for fault-injection tests: the process dies (as with SIGKILL) at a named point.

``ECSLITE_FAILPOINTS=after_act:createSystemDisk,before_act:startServer`` arms points; an armed
point calls ``os._exit(137)`` when reached. Unset (the default), every check is a set lookup.
Points: ``before_act:<step>`` (sub-job marked RUNNING, driver not called), ``after_act:<step>``
(driver done, nothing recorded), ``after_record:<step>`` (step committed with the next one's
start, its driver work not begun),
``rollback:<step>`` (the step failed, compensation not started).
"""

from __future__ import annotations

import functools
import logging
import os
import sys

log = logging.getLogger("ecslite.jobs")


@functools.cache
def _armed() -> frozenset[str]:
    return frozenset(
        p.strip() for p in os.environ.get("ECSLITE_FAILPOINTS", "").split(",") if p.strip()
    )


def hit(point: str) -> None:
    if point in _armed():
        log.warning("failpoint reached point=%s: exiting as a crash would", point)
        sys.stderr.flush()
        os._exit(137)
