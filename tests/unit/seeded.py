"""The in-process set-up the runner's unit tests share: a store seeded with the demo tenant,
and a reinstall of its stopped server accepted (not yet run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecslite.bootstrap import Container, build
from ecslite.config import Settings
from ecslite.demo import ensure_demo
from ecslite.services.reinstall import ReinstallCommand, accept_reinstall
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import apply_seed


def seeded(tmp_path: Path) -> tuple[Container, dict[str, Any]]:
    container = build(Settings(data_dir=tmp_path))
    demo, doc = ensure_demo(tmp_path, "http://test")
    apply_seed(
        doc,
        uow_factory=container.uow_factory,
        box=SecretBox.from_file(tmp_path / "mk"),
        clock=container.clock,
    )
    return container, demo


def accept_stopped_reinstall(container: Container, demo: dict[str, Any]) -> str:
    """Accept a password reinstall of the demo's stopped server; return its job id."""
    return accept_reinstall(
        ReinstallCommand(
            project_id=demo["project_id"],
            server_id=demo["servers"]["stopped"],
            keyname=None,
            userid=None,
            password_hash="$6$x$y",
            user_data=None,
            byol=False,
            encryption=None,
            stop_first=False,
        ),
        uow_factory=container.uow_factory,
        clock=container.clock,
    )
