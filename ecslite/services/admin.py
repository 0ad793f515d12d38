"""The test helpers behind ``/_ecslite/admin`` (off unless enabled): injected faults and a reset
to the seeds the service started with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecslite.domain import errors
from ecslite.domain.clock import Clock
from ecslite.jobs.registry import step_names
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import SeedDocument, apply_seed, wipe
from ecslite.store.uow import UowFactory


@dataclass(frozen=True)
class Fault:
    """The next ``times`` runs of ``step`` (on ``server_id``, or any server) fail."""

    step: str
    server_id: str | None
    times: int
    error_code: str
    message: str


class Admin:
    def __init__(self, uow_factory: UowFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    @staticmethod
    def known_steps() -> list[str]:
        return step_names()

    def add_fault(self, fault: Fault) -> int:
        known = step_names()
        if fault.step not in known:
            raise errors.EcsError(
                errors.INVALID_PARAMETER, f"step must be one of {', '.join(known)}."
            )
        with self._uow_factory() as uow:
            fid = uow.faults.add(
                step=fault.step,
                server_id=fault.server_id,
                times=fault.times,
                error_code=fault.error_code,
                message=fault.message,
            )
            uow.commit()
        return fid

    def faults(self) -> list[dict[str, Any]]:
        with self._uow_factory(write=False) as uow:
            return uow.faults.list()

    def clear_faults(self) -> None:
        with self._uow_factory() as uow:
            uow.faults.clear()
            uow.commit()

    def reset(self, seeds: Sequence[SeedDocument], box: SecretBox) -> None:
        """Forget every record and reload ``seeds``."""
        wipe(self._uow_factory)
        for doc in seeds:
            apply_seed(doc, uow_factory=self._uow_factory, box=box, clock=self._clock)
