"""The qemu driver's ways into a guest, without a guest: the guestfish script that writes
credentials into a disk, the console's login-prompt check, and the guest agent's protocol
(against a unix socket speaking it, including a stale reply left on the channel)."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecslite.drivers.base import GuestCredentials, HostFailure
from ecslite.drivers.qemu import agent, console, guestfs

HASH = "$6$saltsalt$" + "a" * 86


def test_the_script_sets_the_shadow_entry_and_uploads_the_keys(tmp_path: Path) -> None:
    keys = tmp_path / "authorized_keys"
    script = guestfs._script(
        GuestCredentials(user="root", password_hash=HASH, public_keys=("ssh-ed25519 AAAA k",)),
        keys,
    )
    assert f'aug-set "/files/etc/shadow/root/password" "{HASH}"' in script
    assert f"upload {keys} /root/.ssh/authorized_keys" in script
    assert "chmod 0600 /root/.ssh/authorized_keys" in script
    # The key itself travels as a file, not in the script.
    assert "ssh-ed25519" not in script


def test_only_a_crypt_hash_and_a_plain_user_name_reach_guestfish(tmp_path: Path) -> None:
    if guestfs.host_problem() is not None:
        pytest.skip("guestfish is not installed")
    disk = tmp_path / "disk.qcow2"
    for creds in (
        GuestCredentials(user="root", password_hash="Plain-Password-1"),
        GuestCredentials(user='root" ; rm -rf /', password_hash=HASH),
    ):
        with pytest.raises(HostFailure):
            guestfs.inject(disk, creds, work_dir=tmp_path, tcg=True)


def test_the_login_prompt_is_recognised_on_a_line_of_its_own() -> None:
    assert console.login_prompt("Debian GNU/Linux 12 debian ttyS0\n\ndebian login: ")
    assert not console.login_prompt("[  OK  ] Started getty@ttyS0 - login: prompts soon\n")
    assert not console.login_prompt("Starting Cloud-init...\n")


@pytest.fixture
def agent_socket(tmp_path: Path) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    path = Path(f"/tmp/ecslite-qga-{id(tmp_path)}.sock")
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    seen: list[dict[str, Any]] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            # A half reply an earlier client left behind, before anything is asked.
            conn.sendall(b'{"return": 7}\n')
            buf = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    seen.append(msg)
                    if msg["execute"] == "guest-sync":
                        reply: dict[str, Any] = {"return": msg["arguments"]["id"]}
                    else:
                        reply = {"return": {}}
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield path, seen
    finally:
        server.close()
        path.unlink(missing_ok=True)


def test_the_agent_sets_the_crypted_password_after_resynchronising(
    agent_socket: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, seen = agent_socket
    agent.set_password(path, "root", HASH)
    assert [m["execute"] for m in seen] == ["guest-sync", "guest-set-user-password"]
    args = seen[1]["arguments"]
    assert args["username"] == "root" and args["crypted"] is True
    assert base64.b64decode(args["password"]).decode() == HASH


def test_an_absent_agent_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(agent.AgentUnavailable):
        agent.set_password(tmp_path / "none.sock", "root", HASH, wait=0)
