from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Service


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    svc = Service(tmp_path / "data", database_url=database_url).start()
    try:
        yield svc
    finally:
        svc.stop()
