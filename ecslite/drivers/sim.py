"""The sim driver: no VMs, exact control-plane behaviour, a hypervisor's rules, configurable timing.

Like Nova's fake driver it keeps state (which guests run, which disks exist and where each is
attached) and refuses what a hypervisor would: changing the disks of a running guest (Ecs.0100),
starting a guest without a system disk (Ecs.0105), deleting a disk that is still attached, or
attaching one that another server holds. So a job step that would be illegal on a real host
fails here too. What the sim has not seen itself (after a restart, or records seeded before it
ran) it takes from the records it is given, the same way a host's state survives a restart.

Each operation takes ``delay`` seconds so that a job can be watched RUNNING (or a process killed
mid-job). Failure injection is per job step and lives in the job runner, so it applies the same
way to every driver.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from ecslite.domain.boot import BootConfig
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, VmState, Volume
from ecslite.drivers.base import (
    Capabilities,
    DiskInUse,
    DiskSpec,
    GuestCredentials,
    GuestNetwork,
    GuestNotRunning,
    GuestRunning,
    GuestSize,
    NoSystemDisk,
)


class SimDriver:
    name = "sim"
    capabilities: ClassVar[Capabilities] = Capabilities(
        host_local=False,
        testing=True,
        guests_outlive_service=False,
        image_files=False,
        console_output=False,
    )

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, bool] = {}  # server id -> guest running
        self._holder: dict[str, str | None] = {}  # volume id -> server it is attached to
        self._system: dict[str, str | None] = {}  # server id -> its attached system disk

    @staticmethod
    def host_problem() -> str | None:
        return None  # needs nothing from the host

    def close(self) -> None:
        """Cut any in-progress delay short so the service can shut down promptly."""
        self._closing.set()

    def stray_disks(self, known_volume_ids: set[str]) -> list[Path]:
        """The sim keeps no disk files: nothing can be stray."""
        return []

    def stop_all_guests(self, *, timeout: float) -> list[str]:
        """Power off every guest the sim knows to be running; return their ids."""
        with self._lock:
            ids = sorted(sid for sid, running in self._running.items() if running)
            for sid in ids:
                self._running[sid] = False
        return ids

    def _take_time(self) -> None:
        if self.delay > 0:
            self._closing.wait(self.delay)

    def _is_running(self, server: Server) -> bool:
        return self._running.get(server.id, server.vm_state is VmState.ACTIVE)

    def _holder_of(self, volume: Volume) -> str | None:
        return self._holder.get(volume.id, volume.server_id)

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        self._take_time()
        with self._lock:
            self._running[server.id] = False

    def start_server(
        self, server: Server, boot_config: BootConfig | None, *, size: GuestSize | None
    ) -> None:
        self._take_time()
        with self._lock:
            if self._system.get(server.id, "unknown") is None:
                raise NoSystemDisk("The server has no system disk attached.")
            self._running[server.id] = True

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        self._take_time()

    def delete_disk(self, volume: Volume) -> None:
        self._take_time()
        with self._lock:
            if self._holder.get(volume.id) is not None:
                raise DiskInUse(f"Disk {volume.id} is attached; detach it before deleting it.")
            self._holder.pop(volume.id, None)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        self._take_time()
        with self._lock:
            holder = self._holder_of(volume)
            if holder == server.id:  # already attached here
                self._holder[volume.id] = server.id
                if boot_index == 0:
                    self._system[server.id] = volume.id
                return
            if holder is not None:
                raise DiskInUse(f"Disk {volume.id} is attached to {holder}.")
            if self._is_running(server):
                raise GuestRunning("Stop the server before changing its disks.")
            self._holder[volume.id] = server.id
            if boot_index == 0:
                self._system[server.id] = volume.id

    def detach_disk(self, server: Server, volume: Volume) -> None:
        self._take_time()
        with self._lock:
            if self._holder_of(volume) != server.id:
                return  # not attached here: nothing to do
            if self._is_running(server):
                raise GuestRunning("Stop the server before changing its disks.")
            self._holder[volume.id] = None
            if volume.boot_index == 0 or self._system.get(server.id) == volume.id:
                self._system[server.id] = None

    def write_seed(self, server: Server, boot_config: BootConfig | None) -> None:
        self._take_time()

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        self._take_time()
        with self._lock:
            if not self._running.get(server.id, True):
                raise GuestNotRunning("The guest is not running: it cannot finish booting.")

    def verify_login_prompt(self, server: Server, *, timeout: float | None = None) -> None:
        self.verify_boot(server, timeout=timeout)

    def inject_credentials(self, volume: Volume, credentials: GuestCredentials) -> None:
        self._take_time()
        with self._lock:
            holder = self._holder.get(volume.id, volume.server_id)
            if holder is not None and self._running.get(holder, False):
                raise GuestRunning("Stop the server before writing into its disk.")

    def set_password(self, server: Server, credentials: GuestCredentials) -> None:
        self._take_time()
        if not self._is_running(server):
            raise GuestNotRunning("The guest is not running: its agent cannot be reached.")

    def remote_console(self, server_id: str) -> Path | None:
        return None  # no screen

    def console_output(self, server: Server, length: int | None) -> str:
        return ""

    def guest_network(self, server_id: str) -> GuestNetwork | None:
        return None  # no guest to reach

    def ensure_volume(self, volume: Volume, image: Image | None) -> None:
        return None

    def release_server(self, server: Server) -> None:
        with self._lock:
            if self._is_running(server):
                raise GuestRunning("Stop the server before removing it.")
            if any(holder == server.id for holder in self._holder.values()):
                raise DiskInUse("Detach the server's disks before removing it.")
            self._running.pop(server.id, None)
            self._system.pop(server.id, None)
