"""Property-based API fuzzing with schemathesis against a live process: no 5xx anywhere, and
every response (success or error) matches the OpenAPI document the service publishes.

The schemathesis CLI is used (its pytest plugin does not load under this pytest version)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Service

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    svc = Service(tmp_path_factory.mktemp("fuzz") / "data").start()
    demo = svc.demo
    user = {
        "name": demo["user_name"],
        "password": demo["password"],
        "domain": {"name": demo["domain_name"]},
    }
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"id": demo["project_id"]}},
        }
    }
    resp = httpx.post(f"{svc.endpoint}/v3/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    try:
        yield svc, resp.headers["X-Subject-Token"]
    finally:
        svc.stop()


def _schemathesis(
    svc: Service, token: str, report: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(exe),
            *extra,
            "run",
            f"{svc.endpoint}/openapi.json",
            "--checks",
            CHECKS,
            "-H",
            f"X-Auth-Token: {token}",
            "--max-examples",
            "40",
            "--seed",
            "20261127",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_every_route_conforms_to_the_published_schema(
    live: tuple[Service, str], tmp_path: Path
) -> None:
    svc, token = live
    out = _schemathesis(svc, token, tmp_path / "junit.xml")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Traceback" not in svc.log()


def test_every_route_for_the_callers_own_project(live: tuple[Service, str], tmp_path: Path) -> None:
    """Pinning project_id to the caller's project lets requests past the scope check."""
    svc, token = live
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.project_id" = "{svc.demo["project_id"]}"\n')
    out = _schemathesis(svc, token, tmp_path / "junit.xml", "--config-file", str(config))
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Traceback" not in svc.log()
