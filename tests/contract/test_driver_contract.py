"""One contract, every driver: the post-conditions in ecslite/drivers/base.py, observed.

The tests taking the ``driver`` fixture run against every driver of the registry
(``bootstrap.DRIVERS``), each built from settings as ``serve`` builds it; a driver whose host
lacks something (``host_problem``) is skipped saying what. The qemu driver boots a blank disk
here (the firmware finds nothing to boot, but the guest runs); booting a real image is covered
by tests/e2e/test_qemu_guest.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecslite.bootstrap import DRIVERS
from ecslite.config import Settings
from ecslite.domain import errors
from ecslite.domain.boot import BootConfig
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, VmState, Volume
from ecslite.drivers.base import DiskSpec, Driver, DriverError, GuestSize
from ecslite.drivers.qemu import QemuDriver, QemuOptions
from ecslite.images.store import ImageStore

HAVE_QEMU_IMG = shutil.which("qemu-img") is not None

IMAGE = Image(
    id="img-1", name="tiny", status="active", cloud_init=True, os_type="Linux", min_disk_gb=1
)
SERVER = Server(
    id="srv-1",
    project_id="p",
    user_id="u",
    name="web 1",
    image_id="img-1",
    vm_state=VmState.STOPPED,
    task_state=None,
    created="",
    updated="",
)


def _vol(vid: str, *, system: bool) -> Volume:
    return Volume(
        id=vid,
        project_id="p",
        size_gb=1,
        volume_type="SSD",
        status="in-use",
        image_id="img-1" if system else None,
        boot_index=0 if system else None,
        device="/dev/vda" if system else "/dev/vdb",
    )


# Small enough for a shared test host; the firmware of a blank disk needs no more.
SIZE = GuestSize(vcpus=1, memory_mb=64)


# A driver with host-local disks and guests runs qemu-img and QEMU: `make test` only.
@pytest.fixture(
    params=[
        pytest.param(n, marks=pytest.mark.process) if DRIVERS[n].capabilities.host_local else n
        for n in sorted(DRIVERS)
    ]
)
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driver]:
    entry = DRIVERS[request.param]
    problem = entry.load().host_problem()
    if problem is not None:
        pytest.skip(f"the {request.param} driver cannot run here: {problem}")
    settings = Settings(
        data_dir=tmp_path / "data", driver=request.param, qemu_accel="tcg", sim_delay=0
    )
    d = entry.build(settings, None)
    if d.capabilities.image_files:
        # The host's image store holds images as qcow2 bases.
        base = tmp_path / "base.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
        ImageStore(settings.data_dir / "images").add("img-1", name="tiny", disk=base)
    try:
        yield d
    finally:
        d.stop_all_guests(timeout=0)
        d.close()


def _disks_on_host(driver: Driver) -> set[str]:
    """The volume ids whose backing storage is on this host (none for a driver without)."""
    return {p.name.split(".")[0] for p in driver.stray_disks(set())}


def test_disk_lifecycle_is_idempotent(driver: Driver) -> None:
    sys_vol = _vol("sys-1", system=True)
    spec = DiskSpec(volume=sys_vol, image=IMAGE)
    driver.create_disk_from_image(spec)
    driver.create_disk_from_image(spec)
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.detach_disk(SERVER, sys_vol)
    driver.detach_disk(SERVER, sys_vol)
    driver.delete_disk(sys_vol)
    driver.delete_disk(sys_vol)
    driver.write_seed(SERVER, None)
    assert driver.console_output(SERVER, 10) == ""


@pytest.mark.process
@pytest.mark.skipif(not HAVE_QEMU_IMG, reason="qemu-img is not installed")
def test_qemu_system_disk_is_an_overlay_and_data_disks_are_untouched(tmp_path: Path) -> None:
    d = QemuDriver(tmp_path / "data")
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
    d.images.add("img-1", name="tiny", disk=base)
    data = _vol("data-1", system=False)
    d.ensure_volume(data, None)
    data_sha = hashlib.sha256(d.disk_path("data-1").read_bytes()).hexdigest()
    old, new = _vol("sys-old", system=True), _vol("sys-new", system=True)
    d.ensure_volume(old, IMAGE)
    for v in (old, data):
        d.attach_disk(SERVER, v, device=v.device or "", boot_index=v.boot_index)

    d.detach_disk(SERVER, old)
    d.create_disk_from_image(DiskSpec(volume=new, image=IMAGE))
    d.attach_disk(SERVER, new, device="/dev/vda", boot_index=0)
    d.write_seed(SERVER, BootConfig(instance_id="i-1"))
    d.delete_disk(old)

    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(d.disk_path("sys-new"))],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert info["backing-filename"] == str((d.images.get("img-1") or pytest.fail()).disk.resolve())
    assert info["virtual-size"] == 1024**3
    attached = json.loads((d.server_dir("srv-1") / "attachments.json").read_text())["disks"]
    assert {(a["volume_id"], a["device"]) for a in attached} == {
        ("sys-new", "/dev/vda"),
        ("data-1", "/dev/vdb"),
    }
    assert hashlib.sha256(d.disk_path("data-1").read_bytes()).hexdigest() == data_sha
    assert not d.disk_path("sys-old").exists()
    assert (d.server_dir("srv-1") / "seed.iso").exists()
    seed = d.server_dir("srv-1") / "seed.iso"
    before = seed.read_bytes()
    d.write_seed(SERVER, None)  # the baseline: the server's own identity, no keys
    assert seed.exists() and seed.read_bytes() != before


@pytest.mark.process
@pytest.mark.skipif(not HAVE_QEMU_IMG, reason="qemu-img is not installed")
def test_qemu_refuses_a_damaged_base_and_leaves_no_disk(tmp_path: Path) -> None:
    d = QemuDriver(tmp_path / "data")
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb" + b"\0" * 4096)  # a qcow2 magic with a garbage header
    d.images.add("img-1", name="broken", disk=bad)
    with pytest.raises(DriverError) as err:
        d.create_disk_from_image(DiskSpec(volume=_vol("sys-1", system=True), image=IMAGE))
    assert err.value.code == "Ecs.0031"
    assert list((tmp_path / "data" / "volumes").iterdir()) == []


@pytest.mark.skipif(not HAVE_QEMU_IMG, reason="qemu-img is not installed")
def test_qemu_image_missing_from_the_store_is_reported(tmp_path: Path) -> None:
    d = QemuDriver(tmp_path / "data")
    with pytest.raises(DriverError) as err:
        d.create_disk_from_image(DiskSpec(volume=_vol("sys-1", system=True), image=IMAGE))
    assert "ecslite image import" in err.value.message


def test_qemu_start_without_a_system_disk_is_refused(tmp_path: Path) -> None:
    d = QemuDriver(tmp_path / "data")
    with pytest.raises(DriverError) as err:
        d.start_server(SERVER, None, size=SIZE)
    assert err.value.code == "Ecs.0105"


def test_a_running_guests_disks_are_not_changed(driver: Driver) -> None:
    sys_vol, data = _vol("sys-1", system=True), _vol("data-1", system=False)
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.ensure_volume(data, None)
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.start_server(SERVER, None, size=SIZE)
    driver.start_server(SERVER, None, size=SIZE)  # already running: nothing more
    running = dataclasses.replace(SERVER, vm_state=VmState.ACTIVE)
    try:
        with pytest.raises(DriverError) as err:
            driver.attach_disk(running, data, device="/dev/vdb", boot_index=None)
        assert err.value.code == "Ecs.0100"
        with pytest.raises(DriverError) as err:
            driver.detach_disk(running, sys_vol)
        assert err.value.code == "Ecs.0100"
        with pytest.raises(DriverError) as err:
            driver.release_server(running)
        assert err.value.code == "Ecs.0100"
    finally:
        driver.stop_server(running, hard=True)
    driver.attach_disk(SERVER, data, device="/dev/vdb", boot_index=None)  # stopped: allowed


def test_a_guest_that_stopped_does_not_verify(driver: Driver) -> None:
    sys_vol = _vol("sys-1", system=True)
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.start_server(SERVER, None, size=SIZE)
    driver.stop_server(SERVER, hard=True)
    driver.stop_server(SERVER, hard=True)  # already off: nothing more
    with pytest.raises(DriverError) as err:
        driver.verify_boot(SERVER, timeout=30)
    assert err.value.code in (errors.BAD_SERVER_STATE.code, errors.SYSTEM_ERROR.code)


def test_stop_all_guests_stops_every_running_guest(driver: Driver) -> None:
    sys_vol = _vol("sys-1", system=True)
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    assert driver.stop_all_guests(timeout=0) == []
    driver.start_server(SERVER, None, size=SIZE)
    assert driver.stop_all_guests(timeout=0) == [SERVER.id]
    assert driver.stop_all_guests(timeout=0) == []
    # Stopped: its disks may change again.
    driver.detach_disk(dataclasses.replace(SERVER, vm_state=VmState.ACTIVE), sys_vol)


def test_a_guest_without_a_system_disk_does_not_start(driver: Driver) -> None:
    sys_vol = _vol("sys-1", system=True)
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.detach_disk(SERVER, sys_vol)
    with pytest.raises(DriverError) as err:
        driver.start_server(SERVER, None, size=SIZE)
    assert err.value.code == "Ecs.0105"


def test_lifecycle_hooks_are_part_of_the_contract(driver: Driver) -> None:
    assert driver.stray_disks(set()) == []
    assert driver.stop_all_guests(timeout=0) == []
    driver.close()


def test_capabilities_say_what_a_driver_does(driver: Driver) -> None:
    caps = driver.capabilities
    assert caps == DRIVERS[driver.name].capabilities  # the registry reads the class's own
    data = _vol("data-1", system=False)
    driver.ensure_volume(data, None)
    # A host-local driver keeps disks on this host: a disk no record names is reported.
    assert _disks_on_host(driver) == ({"data-1"} if caps.host_local else set())
    assert driver.stray_disks({"data-1"}) == []
    if not caps.console_output:
        assert driver.console_output(SERVER, None) == ""


def test_an_attached_disk_is_neither_deleted_nor_attached_elsewhere(driver: Driver) -> None:
    sys_vol = _vol("sys-1", system=True)
    other = dataclasses.replace(SERVER, id="srv-2")
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    with pytest.raises(DriverError) as err:
        driver.delete_disk(sys_vol)
    assert err.value.code == "Ecs.0100"
    with pytest.raises(DriverError):
        driver.attach_disk(other, sys_vol, device="/dev/vda", boot_index=0)
    if driver.capabilities.host_local:
        assert _disks_on_host(driver) == {sys_vol.id}  # the refusal changed nothing
    driver.detach_disk(SERVER, sys_vol)
    driver.delete_disk(sys_vol)
    assert _disks_on_host(driver) == set()


def test_releasing_a_server_needs_its_disks_detached_and_leaves_nothing(driver: Driver) -> None:
    sys_vol, data = _vol("sys-1", system=True), _vol("data-1", system=False)
    driver.create_disk_from_image(DiskSpec(volume=sys_vol, image=IMAGE))
    driver.ensure_volume(data, None)
    driver.attach_disk(SERVER, sys_vol, device="/dev/vda", boot_index=0)
    driver.attach_disk(SERVER, data, device="/dev/vdb", boot_index=None)
    driver.write_seed(SERVER, None)
    with pytest.raises(DriverError):
        driver.release_server(SERVER)
    driver.detach_disk(SERVER, sys_vol)
    driver.detach_disk(SERVER, data)
    driver.delete_disk(sys_vol)
    driver.release_server(SERVER)
    driver.release_server(SERVER)  # idempotent
    if isinstance(driver, QemuDriver):
        assert not (driver.servers_dir / SERVER.id).exists()
    if driver.capabilities.host_local:
        assert _disks_on_host(driver) == {data.id}  # a kept data disk outlives its server
    # The disk is free for another server.
    other = dataclasses.replace(SERVER, id="srv-2")
    driver.attach_disk(other, data, device="/dev/vdb", boot_index=None)


def test_qemu_sizes_a_guest_by_its_flavor_within_the_hosts_caps(tmp_path: Path) -> None:
    d = QemuDriver(tmp_path / "data", QemuOptions(vcpus=2, memory_mb=4096))
    assert d.guest_size(GuestSize(vcpus=1, memory_mb=2048)) == GuestSize(vcpus=1, memory_mb=2048)
    assert d.guest_size(GuestSize(vcpus=8, memory_mb=32768)) == GuestSize(vcpus=2, memory_mb=4096)
    assert d.guest_size(None) == GuestSize(vcpus=2, memory_mb=4096)  # flavor unknown: the caps
