"""``ecslite servers create|list|delete`` against a real process, defaults from demo.json."""

from __future__ import annotations

import subprocess
import sys

from tests.support import Service


def cli(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecslite", "servers", *args, "--data-dir", str(service.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_creates_lists_and_deletes_a_server(service: Service) -> None:
    demo = service.demo
    out = cli(
        service,
        "create",
        "cli-1",
        "--keyname",
        demo["keypair"]["name"],
        "--data-disk",
        "20",
        "--watch",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "step 6/6 verifyCloudInit" in out.stdout and "SUCCESS" in out.stdout.splitlines()[-1]
    sid = out.stdout.splitlines()[0].split("servers: ")[1].strip()

    listed = cli(service, "list", "--name", "cli-1")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(sid)]
    assert row.split()[1:] == ["cli-1", "ACTIVE", "s6.small.1", "192.168.0.2"]

    gone = cli(service, "delete", sid, "--delete-volumes", "--watch")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert sid not in cli(service, "list").stdout

    refused = cli(service, "create", "bad name", "--keyname", demo["keypair"]["name"])
    assert refused.returncode != 0 and "Ecs.0915" in refused.stderr
