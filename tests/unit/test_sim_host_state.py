"""The sim driver's state is the host's: two drivers on one state file (two processes of one
host, or a restarted one) see each other's guests and attachments."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecslite.domain.server import Server, VmState, Volume
from ecslite.drivers.base import DiskInUse, GuestRunning
from ecslite.drivers.sim import SimDriver

SERVER = Server(
    id="s1",
    project_id="p",
    user_id="u",
    name="s1",
    image_id="img",
    vm_state=VmState.STOPPED,
    task_state=None,
    created="",
    updated="",
)
DISK = Volume(id="v1", project_id="p", size_gb=10, volume_type="SSD", status="available")


def test_a_detach_by_one_process_lets_another_delete_the_disk(tmp_path: Path) -> None:
    a = SimDriver(state_path=tmp_path / "h1.sqlite")
    b = SimDriver(state_path=tmp_path / "h1.sqlite")
    a.attach_disk(SERVER, DISK, device="/dev/vdb", boot_index=None)
    with pytest.raises(DiskInUse):
        b.delete_disk(DISK)
    b.detach_disk(SERVER, DISK)
    a.delete_disk(DISK)  # before: "Disk v1 is attached" from a's own memory


def test_a_guest_stopped_by_one_process_can_have_its_disks_changed_by_another(
    tmp_path: Path,
) -> None:
    a = SimDriver(state_path=tmp_path / "h1.sqlite")
    running = SERVER.__class__(**{**SERVER.__dict__, "vm_state": VmState.ACTIVE})
    a.start_server(running, None, size=None)
    b = SimDriver(state_path=tmp_path / "h1.sqlite")
    with pytest.raises(GuestRunning):
        b.attach_disk(SERVER, DISK, device="/dev/vdb", boot_index=None)
    a.stop_server(running)
    b.attach_disk(SERVER, DISK, device="/dev/vdb", boot_index=None)


def test_a_restarted_driver_remembers_its_running_guests(tmp_path: Path) -> None:
    first = SimDriver(state_path=tmp_path / "h1.sqlite")
    first.start_server(SERVER, None, size=None)
    first.close()
    again = SimDriver(state_path=tmp_path / "h1.sqlite")
    # The record says STOPPED, the host says running: the host is right.
    with pytest.raises(GuestRunning):
        again.release_server(SERVER)
    assert again.stop_all_guests(timeout=1) == ["s1"]


def test_another_hosts_state_file_is_another_host(tmp_path: Path) -> None:
    SimDriver(state_path=tmp_path / "h1.sqlite").start_server(SERVER, None, size=None)
    SimDriver(state_path=tmp_path / "h2.sqlite").release_server(SERVER)
