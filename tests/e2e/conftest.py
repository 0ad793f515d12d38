from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path / "data").start()
    try:
        yield svc
    finally:
        svc.stop()
