"""``openstack server rebuild --wait`` 50 times in a row against one server never exits 1.

The CLI polls the server every 5 s on one keep-alive connection; when the service closed idle
connections after exactly 5 s, now and then a poll met the closing socket ("Connection reset
by peer") and the CLI exited 1 although the rebuild succeeded (issue 21). Each round here is
a fresh CLI process (as a user or a script runs it) against the sim driver with no delays, so
the rounds take the CLI's own poll interval; it is a slow test and lives in its own file so
the test scheduler can spread it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_openstack_clients import Cli
from tests.support import Service

pytestmark = pytest.mark.process

ROUNDS = 50


def test_fifty_rebuilds_in_a_row_all_succeed(service: Service, tmp_path: Path) -> None:
    cli = Cli(service, tmp_path)
    sid, image = cli.demo["servers"]["running"], cli.demo["images"]["cloudinit"]
    failures = []
    for round_no in range(ROUNDS):
        out = cli.run("server", "rebuild", "--image", image, "--wait", sid)
        if out.returncode != 0:
            failures.append((round_no, out.returncode, out.stderr[-1000:]))
    assert failures == []
    shown = cli.ok("server", "show", sid, "-f", "json")
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:task_state"] is None
    # Every round really rebuilt: one rebuild action each (server event list = Nova's
    # instance actions, built from the server's jobs).
    events = cli.ok("server", "event", "list", sid, "-f", "json")
    assert sum(e["Action"] == "rebuild" for e in events) == ROUNDS
