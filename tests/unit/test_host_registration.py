"""A runner registers its host: a different driver than the host record's is refused, and a
restarted worker frees the leases of its own earlier run (not another worker's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.services.runtime import HostRefused


def settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", host_id="h1", **kw)  # type: ignore[arg-type]


def test_a_second_driver_on_one_host_is_refused(tmp_path: Path) -> None:
    first = build(settings(tmp_path, sim_ram_mb=2048))
    try:
        assert first.register_host() == 0
        (host,) = first.services.hosts.all()
        assert (host.id, host.driver, host.capacity.ram_mb) == ("h1", "sim", 2048)
        assert host.availability_zone == "eu-de-01"
    finally:
        first.close()
    other = build(settings(tmp_path, driver="qemu"))
    try:
        with pytest.raises(HostRefused, match=r"recorded with the sim driver.*--driver sim"):
            other.register_host()
    finally:
        other.close()


def test_a_restarted_worker_frees_its_own_leases_only(tmp_path: Path) -> None:
    c = build(settings(tmp_path, worker_name="w1"))
    try:
        with c.engine.begin() as conn:
            for job_id, owner in (("j1", "h1/w1/old"), ("j2", "h1/w2/live"), ("j3", "h2/w1/x")):
                conn.execute(
                    text(
                        "INSERT INTO jobs (id, project_id, job_type, status, phase, params,"
                        " created, lease_owner, lease_expires) VALUES (:id, 'p', 'reboot',"
                        " 'RUNNING', 'forward', '{}', '2026', :owner, 1e12)"
                    ),
                    {"id": job_id, "owner": owner},
                )
        assert c.register_host() == 1
        with c.engine.connect() as conn:
            owners = dict(conn.execute(text("SELECT id, lease_owner FROM jobs")).all())
        assert owners == {"j1": None, "j2": "h1/w2/live", "j3": "h2/w1/x"}
    finally:
        c.close()
