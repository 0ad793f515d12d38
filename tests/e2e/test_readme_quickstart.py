"""The README's quickstart, run as written against a fresh data dir and a real service.

The first block (``make serve`` / ``make test``) is what a newcomer types to start; the test
stands in for ``make serve`` with the same ``ecslite serve --demo --data-dir ./ecslite-data``
and runs every later block of the section with bash, from a directory that looks like a
checkout (``.venv``, ``examples``), so a step that fails or prints a traceback fails the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Service

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 300


def quickstart_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_the_first_block_is_the_one_the_test_stands_in_for() -> None:
    first = quickstart_blocks()[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines()]
    assert [c for c in commands if c] == ["make serve", "make test"]


def test_the_quickstart_runs_top_to_bottom(tmp_path: Path, database_url: str) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    (work / "examples").symlink_to(ROOT / "examples")
    # SQLite: the data dir's own database, as `make serve` uses; else the PostgreSQL one.
    url = None if database_url.startswith("sqlite") else database_url
    svc = Service(work / "ecslite-data", database_url=url).start()
    try:
        outputs = []
        for block in quickstart_blocks()[1:]:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
            )
            out = done.stdout + done.stderr
            assert done.returncode == 0, f"block failed ({done.returncode}):\n{block}\n---\n{out}"
            assert "Traceback" not in out, out
            outputs.append(done.stdout)
        # The last command of the section prints the job the curl call started.
        last_job = json.loads(outputs[-1].strip().splitlines()[-1])
        assert last_job["job_type"] == "reinstallOS"
        assert last_job["status"] in ("INIT", "RUNNING", "SUCCESS")
        assert "SUCCESS" in outputs[0]  # the CLI's --watch and the SDK example both succeed
        assert "FAIL" not in outputs[0]
    finally:
        svc.stop()
