"""A minimal synchronous QMP client: connect, negotiate, run one command at a time.

QEMU's monitor speaks newline-delimited JSON; asynchronous events may arrive between a command
and its reply, so replies are matched by skipping anything that carries an ``event`` key.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any


class QmpError(Exception):
    pass


class QmpClient:
    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(path))
        except OSError as exc:
            self._sock.close()
            raise QmpError(f"cannot connect to QMP at {path}: {exc}") from exc
        self._buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            self.close()
            raise QmpError("not a QMP greeting")
        self.execute("qmp_capabilities")

    def __enter__(self) -> QmpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run ``command``; return its ``return`` value or raise QmpError with QEMU's message."""
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
            while True:
                reply = self._read()
                if "event" in reply:
                    continue
                if "error" in reply:
                    raise QmpError(f"{command}: {reply['error'].get('desc', reply['error'])}")
                return reply.get("return")
        except OSError as exc:
            raise QmpError(f"{command}: {exc}") from exc

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise QmpError("QMP connection closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        value: dict[str, Any] = json.loads(line)
        return value
