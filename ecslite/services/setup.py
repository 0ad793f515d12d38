"""Operator tasks the CLI runs beside the API: seeds, schema upgrades, the master key.

The CLI is a door like the API: it reaches the store only through these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ecslite.config import Settings
from ecslite.domain.clock import Clock
from ecslite.store import migrate
from ecslite.store.engine import make_engine
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import (
    ImageSeed,
    SeedDocument,
    SeedError,
    apply_seed,
    load_seed_file,
)
from ecslite.store.uow import UowFactory

__all__ = [
    "SecretBox",
    "SeedDocument",
    "SeedError",
    "apply_seeds",
    "load_seed",
    "register_image_record",
    "secret_box",
    "upgrade_schema",
]


def secret_box(data_dir: Path) -> SecretBox:
    """The data dir's master key (created on first use, mode 0600)."""
    return SecretBox.from_file(data_dir / "master.key")


def load_seed(path: Path) -> SeedDocument:
    """Parse and check a seed file; ``SeedError`` says what is wrong with it."""
    return load_seed_file(path)


def apply_seeds(
    docs: Sequence[SeedDocument], *, uow_factory: UowFactory, box: SecretBox, clock: Clock
) -> list[dict[str, int]]:
    """Apply each seed (idempotent); return what each one added, by kind."""
    return [apply_seed(doc, uow_factory=uow_factory, box=box, clock=clock) for doc in docs]


def register_image_record(
    image_id: str,
    *,
    name: str,
    cloud_init: bool,
    uow_factory: UowFactory,
    box: SecretBox,
    password_agent: bool = False,
) -> None:
    """Add an image to the catalogue (idempotent)."""
    seed = ImageSeed(id=image_id, name=name, cloud_init=cloud_init, password_agent=password_agent)
    apply_seeds(
        [SeedDocument(images=[seed])],
        uow_factory=uow_factory,
        box=box,
        clock=Clock(),
    )


def upgrade_schema(settings: Settings) -> str:
    """Apply every migration to the settings' database; return the revision it is now at."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate.upgrade(engine)
        return str(migrate.current_revision(engine))
    finally:
        engine.dispose()
