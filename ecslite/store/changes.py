"""What a transaction changed that the API shows: the ids its repositories note as they write.

Its own module so that the repositories (which note changes), the unit of work (which owns
them) and the event recorder (which turns them into events) depend on it, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Changes:
    """Ids of the jobs and servers a transaction changed in ways the API shows."""

    jobs: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.jobs or self.servers)
