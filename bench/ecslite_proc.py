"""Start a real ``ecslite serve`` process on a seeded fleet, and stop it again.

The fleet is one tenant (domain, user, project, key pair, cloud-init image) with N servers, all
ACTIVE with a 40 GB system disk, written as a seed file (JSON is valid YAML). By default it is
loaded with ``ecslite seed`` before the service starts, so the service's memory reflects the
store rather than the seed parser; ``seed_at_start=True`` passes it to ``ecslite serve --seed``
instead. Sim driver, zero delay, SQLite in a fresh temporary data dir.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds, free_port, hwm_mb, rss_mb, wait_port


@dataclass(frozen=True)
class Tenant:
    project_id: str
    user_id: str
    domain_id: str
    access_key: str
    secret_key: str
    keyname: str
    image_id: str
    server_ids: list[str] = field(repr=False)


def _ns(kind: str, i: int) -> str:
    # Deterministic ids so two runs of the same fleet size see the same data.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ecslite-bench/{kind}/{i}"))


def make_seed(n_servers: int, *, public_key: str | None = None) -> tuple[Tenant, dict[str, Any]]:
    from ecslite.services.keypairs import generate_keypair

    if public_key is None:
        public_key, _private = generate_keypair()
    t = Tenant(
        project_id=uuid.uuid5(uuid.NAMESPACE_URL, "ecslite-bench/project").hex,
        user_id=uuid.uuid5(uuid.NAMESPACE_URL, "ecslite-bench/user").hex,
        domain_id=uuid.uuid5(uuid.NAMESPACE_URL, "ecslite-bench/domain").hex,
        access_key="BENCHAK0000000000001",
        secret_key="bench-secret-key-not-a-real-secret",
        keyname="bench-key",
        image_id=_ns("image", 0),
        server_ids=[_ns("server", i) for i in range(n_servers)],
    )
    doc = {
        "domains": [{"id": t.domain_id, "name": "bench-account"}],
        "users": [{"id": t.user_id, "name": "bench-user", "domain_id": t.domain_id}],
        "projects": [
            {"id": t.project_id, "name": "eu-de_bench", "domain_id": t.domain_id, "region": "eu-de"}
        ],
        "access_keys": [
            {"access_key": t.access_key, "secret_key": t.secret_key, "user_id": t.user_id}
        ],
        "images": [{"id": t.image_id, "name": "Debian 12 (cloud-init)", "cloud_init": True}],
        "keypairs": [{"user_id": t.user_id, "name": t.keyname, "public_key": public_key}],
        "servers": [
            {
                "id": sid,
                "project_id": t.project_id,
                "user_id": t.user_id,
                "name": f"bench-{i:05d}",
                "image_id": t.image_id,
                "status": "ACTIVE",
                "system_disk": {"id": _ns("sysdisk", i), "size_gb": 40},
            }
            for i, sid in enumerate(t.server_ids)
        ],
    }
    return t, doc


class EcsliteService:
    """``with EcsliteService(1000) as svc:`` — a running service; ``svc.base`` is its URL."""

    def __init__(
        self,
        n_servers: int,
        *,
        log_level: str = "info",
        extra_env: dict[str, str] | None = None,
        seed_at_start: bool = False,
    ) -> None:
        self.seed_at_start = seed_at_start
        self.n_servers = n_servers
        self.log_level = log_level
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="ecslite-bench-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0
        self.seed_s = 0.0
        self.tenant, doc = make_seed(n_servers)
        self.seed_path = self.tmp / "seed.yaml"
        self.seed_path.write_text(json.dumps(doc))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mb(self.pid)

    def peak_rss(self) -> float:
        return hwm_mb(self.pid)

    def __enter__(self) -> EcsliteService:
        env = {
            **os.environ,
            "ECSLITE_LOG_LEVEL": self.log_level,
            **self.extra_env,
        }
        data = str(self.tmp / "data")
        seed_args = ["--seed", str(self.seed_path)]
        if not self.seed_at_start:
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ecslite", "seed", "--data-dir", data, str(self.seed_path)],
                check=True, env=env, stdout=subprocess.DEVNULL,
            )
            self.seed_s = time.perf_counter() - t0
            seed_args = []
        cmd = [
            sys.executable,
            "-m",
            "ecslite",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            data,
            "--driver",
            "sim",
            "--sim-delay",
            "0",
            *seed_args,
        ]
        self.log = open(self.tmp / "service.log", "wb")  # closed in __exit__
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_port(self.port, timeout=300, proc=self.proc)
        except Exception:
            self.__exit__(None, None, None)
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if os.environ.get("BENCH_KEEP_TMP"):
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
