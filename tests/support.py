"""Helpers shared by the test suites: ports, polling, a real service process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("SUCCESS", "FAIL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(fn: Callable[[], Any], *, until: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """Call ``fn`` until ``until(result)``; fail the test if that takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last value: {value!r}")
        time.sleep(0.02)


class Service:
    """A real ``ecslite serve`` process on a free loopback port."""

    def __init__(
        self, data_dir: Path, *extra: str, port: int | None = None, demo: bool = True
    ) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.demo_tenant = demo
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"service-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        cmd = [
            sys.executable,
            "-m",
            "ecslite",
            "serve",
            *(["--demo"] if self.demo_tenant else []),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        poll(self._ready, until=bool, timeout=60)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"service exited early:\n{self.log_path.read_text()}")
        try:
            httpx.get(f"{self.endpoint}/v1/none/jobs/none", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    @property
    def demo(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "demo.json").read_text()))

    def kill(self) -> None:
        """SIGKILL the process, as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
