"""The sim driver: no VMs, exact control-plane behaviour, a hypervisor's rules, configurable timing.

Like Nova's fake driver it keeps state (which guests run, which disks exist and where each is
attached) and refuses what a hypervisor would: changing the disks of a running guest (Ecs.0100),
starting a guest without a system disk (Ecs.0105), deleting a disk that is still attached, or
attaching one that another server holds. So a job step that would be illegal on a real host
fails here too. That state is the host's, not the process's (drivers/sim_state.py): every
process of a host and a restarted one see the same. What the sim has not seen itself (after a restart, or records seeded before it
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
from ecslite.domain.host import Capacity
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
from ecslite.drivers.sim_state import HostState, Txn


class SimDriver:
    name = "sim"
    capabilities: ClassVar[Capabilities] = Capabilities(
        host_local=False,
        testing=True,
        guests_outlive_service=False,
        image_files=False,
        console_output=False,
    )

    def __init__(
        self,
        *,
        delay: float = 0.0,
        state_path: Path | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        self.delay = delay
        self._closing = threading.Event()
        # running: server id -> "1"/"0"; holder: volume id -> server or None (detached);
        # system: server id -> its attached system disk or None. Absent: not seen yet.
        self._state = HostState(state_path)
        self._capacity = capacity or Capacity(vcpus=64, ram_mb=256 * 1024, disk_gb=10_000)

    @staticmethod
    def host_problem() -> str | None:
        return None  # needs nothing from the host

    def capacity(self) -> Capacity:
        return self._capacity

    def close(self) -> None:
        """Cut any in-progress delay short so the service can shut down promptly."""
        self._closing.set()

    def stray_disks(self, known_volume_ids: set[str]) -> list[Path]:
        """The sim keeps no disk files: nothing can be stray."""
        return []

    def stop_all_guests(self, *, timeout: float) -> list[str]:
        """Power off every guest the sim knows to be running; return their ids."""
        with self._state.transaction() as st:
            ids = sorted(st.keys_with("running", "1"))
            for sid in ids:
                st.set("running", sid, "0")
        return ids

    def _take_time(self) -> None:
        if self.delay > 0:
            self._closing.wait(self.delay)

    @staticmethod
    def _is_running(st: Txn, server: Server) -> bool:
        value = st.get("running", server.id, None)
        return server.vm_state is VmState.ACTIVE if value is None else value == "1"

    @staticmethod
    def _holder_of(st: Txn, volume: Volume) -> str | None:
        value = st.get("holder", volume.id, _UNSEEN)
        return volume.server_id if value is _UNSEEN else value  # type: ignore[return-value]

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        self._take_time()
        with self._state.transaction() as st:
            st.set("running", server.id, "0")

    def start_server(
        self, server: Server, boot_config: BootConfig | None, *, size: GuestSize | None
    ) -> None:
        self._take_time()
        with self._state.transaction() as st:
            if st.get("system", server.id, "unknown") is None:
                raise NoSystemDisk("The server has no system disk attached.")
            st.set("running", server.id, "1")

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        self._take_time()

    def delete_disk(self, volume: Volume) -> None:
        self._take_time()
        with self._state.transaction() as st:
            if st.get("holder", volume.id, None) is not None:
                raise DiskInUse(f"Disk {volume.id} is attached; detach it before deleting it.")
            st.pop("holder", volume.id)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        self._take_time()
        with self._state.transaction() as st:
            holder = self._holder_of(st, volume)
            if holder == server.id:  # already attached here
                st.set("holder", volume.id, server.id)
                if boot_index == 0:
                    st.set("system", server.id, volume.id)
                return
            if holder is not None:
                raise DiskInUse(f"Disk {volume.id} is attached to {holder}.")
            if self._is_running(st, server):
                raise GuestRunning("Stop the server before changing its disks.")
            st.set("holder", volume.id, server.id)
            if boot_index == 0:
                st.set("system", server.id, volume.id)

    def detach_disk(self, server: Server, volume: Volume) -> None:
        self._take_time()
        with self._state.transaction() as st:
            if self._holder_of(st, volume) != server.id:
                return  # not attached here: nothing to do
            if self._is_running(st, server):
                raise GuestRunning("Stop the server before changing its disks.")
            st.set("holder", volume.id, None)
            if volume.boot_index == 0 or st.get("system", server.id, None) == volume.id:
                st.set("system", server.id, None)

    def write_seed(self, server: Server, boot_config: BootConfig | None) -> None:
        self._take_time()

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        self._take_time()
        with self._state.transaction() as st:
            if st.get("running", server.id, "1") == "0":
                raise GuestNotRunning("The guest is not running: it cannot finish booting.")

    def verify_login_prompt(self, server: Server, *, timeout: float | None = None) -> None:
        self.verify_boot(server, timeout=timeout)

    def inject_credentials(self, volume: Volume, credentials: GuestCredentials) -> None:
        self._take_time()
        with self._state.transaction() as st:
            holder = self._holder_of(st, volume)
            if holder is not None and st.get("running", holder, None) == "1":
                raise GuestRunning("Stop the server before writing into its disk.")

    def set_password(self, server: Server, credentials: GuestCredentials) -> None:
        self._take_time()
        with self._state.transaction() as st:
            running = self._is_running(st, server)
        if not running:
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
        with self._state.transaction() as st:
            if self._is_running(st, server):
                raise GuestRunning("Stop the server before removing it.")
            if st.keys_with("holder", server.id):
                raise DiskInUse("Detach the server's disks before removing it.")
            st.pop("running", server.id)
            st.pop("system", server.id)


_UNSEEN = object()
