"""Talk to the QEMU guest agent inside a running guest over its virtio-serial channel.

The agent speaks QMP's JSON framing without a greeting. A channel may hold a stale half reply
from an earlier client, so every session starts with ``guest-sync`` and a random id and reads
until that id comes back (the protocol's own resynchronisation). Only what ecslite uses is
here: setting a user's password from its crypt(3) hash (``crypted``: the plaintext never
reaches the host side of the channel).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from ecslite.drivers.base import HostFailure


class AgentUnavailable(HostFailure):
    """The guest agent did not answer: not installed, not started yet, or the guest is stuck."""


class GuestAgent:
    def __init__(self, path: Path, *, timeout: float = 20.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._buf = b""
        try:
            self._sock.connect(str(path))
            self._sync()
        except (OSError, ValueError) as exc:
            self._sock.close()
            raise AgentUnavailable(f"The guest agent does not answer: {exc}") from None

    def __enter__(self) -> GuestAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def _send(self, command: str, arguments: dict[str, Any] | None = None) -> None:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._sock.sendall(json.dumps(msg).encode() + b"\n")

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ValueError("channel closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        # A reply to guest-sync-delimited or garbage left on the channel: skip to valid JSON.
        line = line.lstrip(b"\xff").strip()
        if not line:
            return {}
        try:
            value: dict[str, Any] = json.loads(line)
        except ValueError:
            return {}
        return value

    def _sync(self) -> None:
        token = secrets.randbelow(1 << 30)
        self._send("guest-sync", {"id": token})
        while self._read().get("return") != token:
            pass

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        try:
            self._send(command, arguments)
            while True:
                reply = self._read()
                if "error" in reply:
                    desc = reply["error"].get("desc", "error")
                    raise HostFailure(f"The guest agent refused {command}: {desc}")
                if "return" in reply:
                    return reply["return"]
        except (OSError, ValueError) as exc:
            raise AgentUnavailable(f"The guest agent did not answer {command}: {exc}") from None


def set_password(path: Path, user: str, password_hash: str, *, wait: float = 0.0) -> None:
    """Set ``user``'s password to ``password_hash`` (crypt(3)); retry for ``wait`` s while the
    agent is not up yet (a guest still booting)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with GuestAgent(path) as agent:
                agent.execute(
                    "guest-set-user-password",
                    {
                        "username": user,
                        "password": base64.b64encode(password_hash.encode()).decode(),
                        "crypted": True,
                    },
                )
                return
        except AgentUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(2.0)
