"""The sim driver: no VMs, exact control-plane behaviour, configurable timing.

Disks and guests exist only as control-plane records; each operation takes ``delay`` seconds so
that a job can be watched RUNNING (or a process killed mid-job). Failure injection is per job
step and lives in the job runner, so it applies the same way to every driver.
"""

from __future__ import annotations

import threading
from typing import Any

from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import DiskSpec, GuestNetwork


class SimDriver:
    name = "sim"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self._closing = threading.Event()

    def close(self) -> None:
        """Cut any in-progress delay short so the service can shut down promptly."""
        self._closing.set()

    def _take_time(self) -> None:
        if self.delay > 0:
            self._closing.wait(self.delay)

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        self._take_time()

    def start_server(self, server: Server, boot_config: dict[str, Any] | None) -> None:
        self._take_time()

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        self._take_time()

    def delete_disk(self, volume: Volume) -> None:
        self._take_time()

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        self._take_time()

    def detach_disk(self, server: Server, volume: Volume) -> None:
        self._take_time()

    def write_seed(self, server: Server, boot_config: dict[str, Any]) -> None:
        self._take_time()

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        self._take_time()

    def console_output(self, server: Server, length: int | None) -> str:
        return ""

    def guest_network(self, server_id: str) -> GuestNetwork | None:
        return None  # no guest to reach

    def ensure_volume(self, volume: Volume, image: Image | None) -> None:
        return None
