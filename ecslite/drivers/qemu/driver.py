"""The qemu driver: real disks and guests under the data dir.

Layout::

    volumes/<volume_id>.qcow2          every disk (system disks are overlays on an image base)
    volumes/<volume_id>.dek            an encrypted disk's data key, wrapped by its CMK (JSON)
    servers/<server_id>/attachments.json   which volumes the guest boots with, by device
    servers/<server_id>/seed.iso       the next boot's cloud-init config drive
    servers/<server_id>/serial.log     the guest's serial console (appended across boots)
    servers/<server_id>/boot.json      where in serial.log the current boot starts
    servers/<server_id>/qemu.pid

QMP sockets live in a short private temp dir (AF_UNIX paths are limited to 108 bytes).

An encrypted system disk is a LUKS qcow2 overlay; its data key is kept wrapped by the project's
CMK (``keys.py``).

A guest gets the size the job hands to ``start_server`` (its flavor's), capped by this host's
share per guest; the driver never reads the store.

Attach and detach only edit ``attachments.json`` (changes take effect at the next boot; the
control plane changes disks only on a stopped server). A data disk is never opened by this
driver except by the guest's QEMU: a reinstall touches only system-disk files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ecslite.cloudinit.configdrive import LABEL, render_config_drive
from ecslite.cloudinit.iso import write_iso
from ecslite.domain.boot import BootConfig
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import (
    BootNotVerified,
    Capabilities,
    DiskInUse,
    DiskSpec,
    GuestNetwork,
    GuestRunning,
    GuestSize,
    HostFailure,
    ImageUnavailable,
    NoSystemDisk,
)
from ecslite.drivers.qemu import accel, console, disks, network, vm
from ecslite.drivers.qemu.keys import DataKeys, DiskKeys, write_json
from ecslite.images.store import ImageFiles, ImageStore


@dataclass(frozen=True)
class QemuOptions:
    accel: str = "auto"  # auto | kvm | tcg
    # A guest gets its flavor's vCPUs and RAM up to these caps (the host's share per guest);
    # a server whose flavor is unknown gets the caps.
    vcpus: int = 2
    memory_mb: int = 4096
    powerdown_timeout: float = 60.0
    cloud_init_timeout: float = 600.0
    # A guest that prints nothing at all for this long is not running (see verify_boot).
    silent_timeout: float = 60.0
    ssh_host: str = "127.0.0.1"  # where guests' SSH ports are forwarded


class QemuDriver:
    name = "qemu"
    capabilities: ClassVar[Capabilities] = Capabilities(
        host_local=True,
        testing=False,
        guests_outlive_service=True,
        image_files=True,
        console_output=True,
    )

    def __init__(
        self,
        data_dir: Path,
        options: QemuOptions | None = None,
        *,
        data_keys: DataKeys | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.options = options or QemuOptions()
        self.images = ImageStore(data_dir / "images")
        self.volumes_dir = data_dir / "volumes"
        self.servers_dir = data_dir / "servers"
        self.keys = DiskKeys(self.volumes_dir, data_keys)
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        self._closing = threading.Event()

    @staticmethod
    def host_problem() -> str | None:
        missing = [tool for tool in (vm.QEMU, "qemu-img") if shutil.which(tool) is None]
        if missing:
            how = "apt-get install qemu-system-x86 qemu-utils"
            return f"{', '.join(missing)} not installed ({how})"
        return None

    def close(self) -> None:
        """Stop waiting on guests; the guests themselves keep running (like libvirt's)."""
        self._closing.set()

    # -- paths -------------------------------------------------------------------------------

    def disk_path(self, volume_id: str) -> Path:
        return self.volumes_dir / f"{volume_id}.qcow2"

    def key_path(self, volume_id: str) -> Path:
        return self.keys.path(volume_id)

    def server_dir(self, server_id: str) -> Path:
        d = self.servers_dir / server_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def vm_name(self, server_id: str) -> str:
        return f"ecslite-{server_id}"

    def _attachments(self, server_id: str) -> list[dict[str, Any]]:
        path = self.server_dir(server_id) / "attachments.json"
        if not path.exists():
            return []
        disks_: list[dict[str, Any]] = json.loads(path.read_text())["disks"]
        return disks_

    def _save_attachments(self, server_id: str, entries: list[dict[str, Any]]) -> None:
        write_json(self.server_dir(server_id) / "attachments.json", {"disks": entries})

    def is_running(self, server_id: str) -> bool:
        return vm.running_pid(self.server_dir(server_id), self.vm_name(server_id)) is not None

    def running_guests(self) -> list[str]:
        """Return the ids of the servers of this data dir whose QEMU process is alive."""
        return sorted(
            d.name
            for d in self.servers_dir.iterdir()
            if d.is_dir() and vm.running_pid(d, self.vm_name(d.name)) is not None
        )

    def stop_all_guests(self, *, timeout: float) -> list[str]:
        """Power off every guest of this data dir (ACPI, forced after ``timeout`` s); return ids.

        Post: no QEMU process of this data dir is running. The guests are powered off in
        parallel, so this takes about ``timeout`` at most however many there are.
        """
        ids = self.running_guests()
        with ThreadPoolExecutor(max_workers=max(1, len(ids))) as pool:
            list(
                pool.map(
                    lambda sid: vm.shutdown(
                        self.server_dir(sid),
                        self.vm_name(sid),
                        qmp_socket=vm.qmp_socket_path(self.data_dir, sid),
                        timeout=timeout,
                    ),
                    ids,
                )
            )
        return ids

    # -- the Driver protocol -----------------------------------------------------------------

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        vm.shutdown(
            self.server_dir(server.id),
            self.vm_name(server.id),
            qmp_socket=vm.qmp_socket_path(self.data_dir, server.id),
            timeout=0 if hard else self.options.powerdown_timeout,
        )

    def start_server(
        self, server: Server, boot_config: BootConfig | None, *, size: GuestSize | None
    ) -> None:
        workdir = self.server_dir(server.id)
        name = self.vm_name(server.id)
        if vm.running_pid(workdir, name) is not None:
            return
        attached = self._attachments(server.id)
        system = next((a for a in attached if a["boot_index"] == 0), None)
        if system is None:
            raise NoSystemDisk("The server has no system disk attached.")
        files = self.images.get(system["image_id"]) if system.get("image_id") else None
        seed = workdir / "seed.iso"
        if not seed.exists():
            self.write_seed(server, boot_config)
        keys: dict[str, bytes] = {}
        for a in attached:
            if not self.disk_path(a["volume_id"]).exists():
                raise HostFailure(f"Disk {a['volume_id']} is missing on the host.")
            if self.keys.has_key(a["volume_id"]):
                keys[a["volume_id"]] = self.keys.existing(a["volume_id"])
        with self.keys.secret_files(vm.runtime_dir(self.data_dir), keys) as secret_files:
            self._launch(server, attached, secret_files, files, self.guest_size(size))

    def _launch(
        self,
        server: Server,
        attached: list[dict[str, Any]],
        secret_files: dict[str, Path],
        files: ImageFiles | None,
        size: GuestSize,
    ) -> None:
        workdir = self.server_dir(server.id)
        seed = workdir / "seed.iso"
        attachments = [
            vm.DiskAttachment(
                volume_id=a["volume_id"],
                path=self.disk_path(a["volume_id"]),
                device=a["device"],
                boot_index=a["boot_index"],
                secret_file=secret_files.get(a["volume_id"]),
            )
            for a in attached
        ]
        net = network.for_launch(workdir, server_id=server.id, ssh_host=self.options.ssh_host)
        accel_name = self._accel()
        spec = vm.VmSpec(
            name=self.vm_name(server.id),
            workdir=workdir,
            disks=attachments,
            seed_iso=seed,
            kernel=files.kernel if files else None,
            initrd=files.initrd if files else None,
            cmdline=_kernel_cmdline(files.cmdline, accel_name) if files else "",
            accel=accel_name,
            vcpus=size.vcpus,
            memory_mb=size.memory_mb,
            qmp_socket=vm.qmp_socket_path(self.data_dir, server.id),
            nic=network.nic_argument(net),
        )
        log = spec.serial_log
        offset = log.stat().st_size if log.exists() else 0
        # Written before launch: verify_boot must never read an earlier boot's output.
        write_json(workdir / "boot.json", {"serial_offset": offset, "started": time.time()})
        try:
            vm.launch(spec)
        except HostFailure as exc:
            if not network.forward_refused(exc.message):
                raise
            # Another program took the port between the check and QEMU's bind: move once.
            net = network.for_launch(workdir, server_id=server.id, ssh_host=self.options.ssh_host)
            vm.launch(dataclasses.replace(spec, nic=network.nic_argument(net)))

    def guest_size(self, size: GuestSize | None) -> GuestSize:
        """The size a guest gets: ``size`` (its flavor's) within the host's caps, else the caps."""
        caps = GuestSize(vcpus=self.options.vcpus, memory_mb=self.options.memory_mb)
        if size is None:
            return caps
        return GuestSize(
            vcpus=min(size.vcpus, caps.vcpus), memory_mb=min(size.memory_mb, caps.memory_mb)
        )

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        path = self.disk_path(spec.volume.id)
        if path.exists():
            return
        files = self.images.get(spec.image.id)
        if files is None:
            raise ImageUnavailable(
                f"Image {spec.image.id} has no disk in this host's image store; "
                "add it with `ecslite image import` or `ecslite image build`."
            )
        disks.check_base(files.disk)
        if not spec.volume.encrypted:
            disks.create_overlay(path, base=files.disk, size_gb=spec.volume.size_gb)
            return
        key = self.keys.for_volume(spec.volume)
        try:
            runtime = vm.runtime_dir(self.data_dir)
            with self.keys.secret_files(runtime, {spec.volume.id: key}) as secret:
                disks.create_overlay(
                    path,
                    base=files.disk,
                    size_gb=spec.volume.size_gb,
                    secret_file=secret[spec.volume.id],
                )
        except BaseException:
            self.keys.forget(spec.volume.id)  # no partial state
            raise

    def _holder(self, volume_id: str) -> str | None:
        """The server whose attachments name ``volume_id`` (a scan: guests per host are few)."""
        for d in self.servers_dir.iterdir():
            path = d / "attachments.json"
            if path.exists() and any(
                e["volume_id"] == volume_id for e in json.loads(path.read_text())["disks"]
            ):
                return d.name
        return None

    def delete_disk(self, volume: Volume) -> None:
        holder = self._holder(volume.id)
        if holder is not None:
            raise DiskInUse(f"Disk {volume.id} is attached to {holder}; detach it first.")
        self.disk_path(volume.id).unlink(missing_ok=True)
        self.keys.forget(volume.id)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        entries = self._attachments(server.id)
        if any(e["volume_id"] == volume.id for e in entries):
            return
        holder = self._holder(volume.id)
        if holder is not None:
            raise DiskInUse(f"Disk {volume.id} is attached to {holder}.")
        if self.is_running(server.id):
            raise GuestRunning("Stop the server before changing its disks.")
        entries = [e for e in entries if e["device"] != device]
        entries.append(
            {
                "volume_id": volume.id,
                "device": device,
                "boot_index": boot_index,
                "image_id": volume.image_id,
            }
        )
        self._save_attachments(server.id, entries)

    def detach_disk(self, server: Server, volume: Volume) -> None:
        entries = self._attachments(server.id)
        if not any(e["volume_id"] == volume.id for e in entries):
            return
        if self.is_running(server.id):
            raise GuestRunning("Stop the server before changing its disks.")
        self._save_attachments(server.id, [e for e in entries if e["volume_id"] != volume.id])

    def write_seed(self, server: Server, boot_config: BootConfig | None) -> None:
        seed = self.server_dir(server.id) / "seed.iso"
        if boot_config is None:
            # Without any data source the image's cloud-init disables itself (ds-identify), and
            # nothing would say the guest came up: give it the server's baseline identity.
            boot_config = BootConfig(instance_id=f"i-{server.id}")
        files = render_config_drive(
            boot_config,
            hostname=_hostname(server.name),
            network=network.static_config(server.id),
        )
        write_iso(files, label=LABEL, path=seed)

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        workdir = self.server_dir(server.id)
        try:
            boot = json.loads((workdir / "boot.json").read_text())
            offset = int(boot["serial_offset"])
            # Wall clock, written at start: a verification resumed after a restart of the
            # service counts the silence that came before it.
            started = float(boot.get("started", time.time()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HostFailure("The server was not started by this host.") from exc
        limit = self.options.cloud_init_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        log = workdir / "serial.log"
        while True:
            text = console.read_from(log, offset)
            result = console.verdict(text)
            if result.finished:
                if result.errors:
                    raise BootNotVerified(
                        "cloud-init finished with errors (see the console output): "
                        + " | ".join(result.errors[:3])[:500]
                    )
                return
            silent_for = time.time() - started
            if not text and silent_for > self.options.silent_timeout:
                raise BootNotVerified(self._silence_reason(silent_for))
            if not self.is_running(server.id):
                raise BootNotVerified(
                    "The guest stopped before cloud-init finished; see the console output."
                )
            if time.monotonic() > deadline:
                last = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["(no output)"]
                raise BootNotVerified(
                    f"cloud-init did not finish within {limit:.0f} s; the guest's last console "
                    f"line was: {last[0][:200]}"
                )
            time.sleep(0.5)

    def _silence_reason(self, silent_for: float) -> str:
        how = (
            "chosen by probing" if self.options.accel == "auto" else "forced by ECSLITE_QEMU_ACCEL"
        )
        return (
            f"The guest wrote nothing to its serial console in {silent_for:.0f} s after it "
            f"started: no accelerator progress (its vCPU does not run) or no kernel output "
            f"(the image's kernel command line lacks console=ttyS0). This host runs guests "
            f"under {self._accel()} ({how}); set ECSLITE_QEMU_ACCEL=tcg if KVM does not run "
            f"guests here, or raise ECSLITE_QEMU_SILENT_TIMEOUT for a very slow host."
        )

    def release_server(self, server: Server) -> None:
        workdir = self.servers_dir / server.id
        if not workdir.exists():
            return
        if vm.running_pid(workdir, self.vm_name(server.id)) is not None:
            raise GuestRunning("Stop the server before removing it.")
        if self._attachments(server.id):
            raise DiskInUse("Detach the server's disks before removing it.")
        vm.qmp_socket_path(self.data_dir, server.id).unlink(missing_ok=True)
        # Its seed (which may hold a password hash), console log, boot record and network
        # forward go with it; the forward's port is free for the next guest.
        shutil.rmtree(workdir)

    def guest_network(self, server_id: str) -> GuestNetwork | None:
        return network.load(self.servers_dir / server_id)

    def console_output(self, server: Server, length: int | None) -> str:
        return console.tail(self.server_dir(server.id) / "serial.log", length)

    def ensure_volume(self, volume: Volume, image: Image | None) -> None:
        if self.disk_path(volume.id).exists():
            return
        if volume.image_id is not None and image is not None:
            self.create_disk_from_image(DiskSpec(volume=volume, image=image))
        else:
            disks.create_blank(self.disk_path(volume.id), size_gb=volume.size_gb)

    def stray_disks(self, known_volume_ids: set[str]) -> list[Path]:
        """Disk files under the data dir that no volume record names (should be none)."""
        return sorted(
            p
            for p in self.volumes_dir.glob("*.qcow2")
            if not p.name.startswith(".") and p.stem not in known_volume_ids
        )

    # -- helpers -----------------------------------------------------------------------------

    def _accel(self) -> str:
        if self.options.accel == "auto":
            return accel.detect(vm.QEMU).accel
        return self.options.accel


def _kernel_cmdline(cmdline: str, accel_name: str) -> str:
    """Return the image's kernel command line for a guest under ``accel_name``.

    Under TCG no guest instruction runs speculatively on the host CPU, so the kernel's
    speculative-execution mitigations protect nothing and only cost emulated MSR writes and
    retpolines on every context switch and system call: they are switched off there. Under KVM
    the image's own command line is used unchanged.
    """
    if accel_name == "tcg" and "mitigations=" not in cmdline:
        return f"{cmdline} mitigations=off"
    return cmdline


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")
    return cleaned[:63] or "ecs"
