"""What every operation shares: the command base type, the accepted-job answer, the ports.

A front door (ECS or Nova route, console action, CLI) builds one typed command and hands it to
``Operations.submit`` (services/operations.py); it never checks a rule or touches the store.
Each command type is registered with one handler that validates it, prepares its secrets and
accepts its job (services/operations.py lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ecslite.domain.clock import Clock
from ecslite.images.store import ImageStore
from ecslite.services.placement import PlacementPolicy
from ecslite.store.uow import UowFactory

R = TypeVar("R", covariant=True)


class Command(Generic[R]):
    """A request to change something; ``R`` is what ``Operations.submit`` answers for it."""


@dataclass(frozen=True)
class JobAccepted:
    """A job was accepted (or an earlier one with the same client token was found)."""

    job_id: str
    # The servers a create makes (ECS answers them as ``serverIds``); empty for other jobs.
    server_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on images uploaded through Glance: one file, and all of a project's together."""

    max_image_bytes: int = 10 * 1024**3
    project_image_bytes: int = 50 * 1024**3


@dataclass(frozen=True)
class Ports:
    """What a handler may use: the store, the clock, the cloud's placement settings; the image
    store and its limits for image uploads (None where a process keeps no image files, e.g. unit
    tests)."""

    uow_factory: UowFactory
    clock: Clock
    placement: PlacementPolicy = field(default_factory=PlacementPolicy)
    images: ImageStore | None = None
    image_limits: ImageLimits = field(default_factory=ImageLimits)


Handler = Callable[[Command[R], Ports], R]
