"""The qemu driver: real disks and guests under the data dir.

Layout::

    volumes/<volume_id>.qcow2          every disk (system disks are overlays on an image base)
    volumes/<volume_id>.key            LUKS data key of an encrypted disk (0600, raw bytes)
    servers/<server_id>/attachments.json   which volumes the guest boots with, by device
    servers/<server_id>/seed.iso       the next boot's cloud-init config drive
    servers/<server_id>/serial.log     the guest's serial console (appended across boots)
    servers/<server_id>/boot.json      where in serial.log the current boot starts
    servers/<server_id>/qemu.pid

QMP sockets live in a short private temp dir (AF_UNIX paths are limited to 108 bytes).

Attach and detach only edit ``attachments.json`` (changes take effect at the next boot; the
control plane changes disks only on a stopped server). A data disk is never opened by this
driver except by the guest's QEMU: a reinstall touches only system-disk files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecslite.cloudinit.configdrive import LABEL, render_config_drive
from ecslite.cloudinit.iso import write_iso
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume
from ecslite.drivers.base import DiskSpec, DriverError
from ecslite.drivers.qemu import console, disks, vm
from ecslite.images.store import ImageStore


@dataclass(frozen=True)
class QemuOptions:
    accel: str = "auto"  # auto | kvm | tcg
    vcpus: int = 2
    memory_mb: int = 1024
    powerdown_timeout: float = 60.0
    cloud_init_timeout: float = 600.0


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


class QemuDriver:
    name = "qemu"

    def __init__(self, data_dir: Path, options: QemuOptions | None = None) -> None:
        self.data_dir = data_dir
        self.options = options or QemuOptions()
        self.images = ImageStore(data_dir / "images")
        self.volumes_dir = data_dir / "volumes"
        self.servers_dir = data_dir / "servers"
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        self._closing = threading.Event()

    def close(self) -> None:
        """Stop waiting on guests; the guests themselves keep running (like libvirt's)."""
        self._closing.set()

    # -- paths -------------------------------------------------------------------------------

    def disk_path(self, volume_id: str) -> Path:
        return self.volumes_dir / f"{volume_id}.qcow2"

    def key_path(self, volume_id: str) -> Path:
        return self.volumes_dir / f"{volume_id}.key"

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
        _write_json(self.server_dir(server_id) / "attachments.json", {"disks": entries})

    def is_running(self, server_id: str) -> bool:
        return vm.running_pid(self.server_dir(server_id), self.vm_name(server_id)) is not None

    # -- the Driver protocol -----------------------------------------------------------------

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        vm.shutdown(
            self.server_dir(server.id),
            self.vm_name(server.id),
            qmp_socket=vm.qmp_socket_path(self.data_dir, server.id),
            timeout=0 if hard else self.options.powerdown_timeout,
        )

    def start_server(self, server: Server, boot_config: dict[str, Any] | None) -> None:
        workdir = self.server_dir(server.id)
        name = self.vm_name(server.id)
        if vm.running_pid(workdir, name) is not None:
            return
        attached = self._attachments(server.id)
        system = next((a for a in attached if a["boot_index"] == 0), None)
        if system is None:
            raise DriverError("Ecs.0105", "The server has no system disk attached.")
        files = self.images.get(system["image_id"]) if system.get("image_id") else None
        seed = workdir / "seed.iso"
        if not seed.exists():
            self.write_seed(server, boot_config or {})
        attachments = []
        for a in attached:
            path = self.disk_path(a["volume_id"])
            if not path.exists():
                raise DriverError("Ecs.0002", f"Disk {a['volume_id']} is missing on the host.")
            key = self.key_path(a["volume_id"])
            attachments.append(
                vm.DiskAttachment(
                    volume_id=a["volume_id"],
                    path=path,
                    device=a["device"],
                    boot_index=a["boot_index"],
                    secret_file=key if key.exists() else None,
                )
            )
        spec = vm.VmSpec(
            name=name,
            workdir=workdir,
            disks=attachments,
            seed_iso=seed,
            kernel=files.kernel if files else None,
            initrd=files.initrd if files else None,
            cmdline=files.cmdline if files else "",
            accel=self._accel(),
            vcpus=self.options.vcpus,
            memory_mb=self.options.memory_mb,
            qmp_socket=vm.qmp_socket_path(self.data_dir, server.id),
        )
        log = spec.serial_log
        offset = log.stat().st_size if log.exists() else 0
        # Written before launch: verify_boot must never read an earlier boot's output.
        _write_json(workdir / "boot.json", {"serial_offset": offset, "started": time.time()})
        vm.launch(spec)

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        path = self.disk_path(spec.volume.id)
        if path.exists():
            return
        files = self.images.get(spec.image.id)
        if files is None:
            raise DriverError(
                "Ecs.0031",
                f"Image {spec.image.id} has no disk in this host's image store; "
                "add it with `ecslite image import` or `ecslite image build`.",
            )
        disks.check_base(files.disk)
        secret = None
        if spec.data_key_wrapped is not None:
            secret = self.key_path(spec.volume.id)
            raise DriverError("Ecs.0002", "Encrypted system disks are not supported yet.")
        disks.create_overlay(path, base=files.disk, size_gb=spec.volume.size_gb, secret_file=secret)

    def delete_disk(self, volume: Volume) -> None:
        self.disk_path(volume.id).unlink(missing_ok=True)
        self.key_path(volume.id).unlink(missing_ok=True)

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        entries = self._attachments(server.id)
        if any(e["volume_id"] == volume.id for e in entries):
            return
        if self.is_running(server.id):
            raise DriverError("Ecs.0100", "Stop the server before changing its disks.")
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
            raise DriverError("Ecs.0100", "Stop the server before changing its disks.")
        self._save_attachments(server.id, [e for e in entries if e["volume_id"] != volume.id])

    def write_seed(self, server: Server, boot_config: dict[str, Any]) -> None:
        seed = self.server_dir(server.id) / "seed.iso"
        if not boot_config:
            # Without any data source the image's cloud-init disables itself (ds-identify), and
            # nothing would say the guest came up: give it the server's baseline identity.
            boot_config = {"instance_id": f"i-{server.id}", "public_keys": []}
        files = render_config_drive(boot_config, hostname=_hostname(server.name))
        write_iso(files, label=LABEL, path=seed)

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        workdir = self.server_dir(server.id)
        try:
            offset = int(json.loads((workdir / "boot.json").read_text())["serial_offset"])
        except (OSError, ValueError, KeyError) as exc:
            raise DriverError("Ecs.0002", "The server was not started by this host.") from exc
        limit = self.options.cloud_init_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        log = workdir / "serial.log"
        while True:
            text = console.read_from(log, offset)
            result = console.verdict(text)
            if result.finished:
                if result.errors:
                    raise DriverError(
                        "Ecs.0002",
                        "cloud-init finished with errors (see the console output): "
                        + " | ".join(result.errors[:3])[:500],
                    )
                return
            if not self.is_running(server.id):
                raise DriverError(
                    "Ecs.0002",
                    "The guest stopped before cloud-init finished; see the console output.",
                )
            if time.monotonic() > deadline:
                last = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["(no output)"]
                raise DriverError(
                    "Ecs.0002",
                    f"cloud-init did not finish within {limit:.0f} s; the guest's last console "
                    f"line was: {last[0][:200]}",
                )
            time.sleep(0.5)

    def console_output(self, server: Server, length: int | None) -> str:
        return console.tail(self.server_dir(server.id) / "serial.log", length)

    def ensure_volume(self, volume: Volume, image: Image | None) -> None:
        if self.disk_path(volume.id).exists():
            return
        if volume.image_id is not None and image is not None:
            self.create_disk_from_image(DiskSpec(volume=volume, image=image))
        else:
            disks.create_blank(self.disk_path(volume.id), size_gb=volume.size_gb)

    # -- helpers -----------------------------------------------------------------------------

    def _accel(self) -> str:
        return vm.detect_accel() if self.options.accel == "auto" else self.options.accel


def _hostname(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()).strip("-")
    return cleaned[:63] or "ecs"
