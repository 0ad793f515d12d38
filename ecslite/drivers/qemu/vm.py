"""One QEMU process per running server: build its command line, start it, stop it.

QEMU runs daemonized with a pidfile and a QMP socket in the server's directory, so guests keep
running across a restart of the service and are found again by pid + command line. Secrets
(LUKS keys) reach QEMU through ``--object secret,file=`` with 0600 files, never on the command
line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ecslite.drivers.base import HostFailure
from ecslite.drivers.qemu.qmp import QmpClient, QmpError

QEMU = "qemu-system-x86_64"


@dataclass(frozen=True)
class DiskAttachment:
    volume_id: str
    path: Path
    device: str
    boot_index: int | None
    secret_file: Path | None = None


@dataclass(frozen=True)
class VmSpec:
    name: str
    workdir: Path
    disks: list[DiskAttachment]
    seed_iso: Path | None
    kernel: Path | None
    initrd: Path | None
    cmdline: str
    accel: str
    vcpus: int
    memory_mb: int
    qmp_socket: Path
    nic: str | None = None  # QEMU's -nic value; None: no network
    # The guest agent's virtio-serial channel and the VNC server, each a unix socket (no TCP
    # port): None leaves the device out.
    agent_socket: Path | None = None
    vnc_socket: Path | None = None

    @property
    def pidfile(self) -> Path:
        return self.workdir / "qemu.pid"

    @property
    def serial_log(self) -> Path:
        return self.workdir / "serial.log"


def command_line(spec: VmSpec) -> list[str]:
    """Return the QEMU argv for ``spec`` (no secret values in it, only secret file paths)."""
    argv = [
        QEMU,
        "-name", f"{spec.name},process={spec.name}",
        "-machine", "pc",  # the Debian cloud kernel has no AHCI: IDE (piix) for the cdrom
        "-accel", spec.accel,
        "-cpu", "host" if spec.accel == "kvm" else "max",
        "-smp", str(spec.vcpus),
        "-m", str(spec.memory_mb),
        "-nodefaults",
        "-nic", spec.nic or "none",
        "-chardev", f"file,id=ser0,path={spec.serial_log},append=on",
        "-serial", "chardev:ser0",
        "-qmp", f"unix:{spec.qmp_socket},server=on,wait=off",
        "-pidfile", str(spec.pidfile),
        "-daemonize",
    ]  # fmt: skip
    if spec.vnc_socket is not None:
        # A screen for the remote console: VGA, served by QEMU's VNC server on a unix socket
        # that only this host's ecslite (its WebSocket proxy) opens.
        argv += ["-vga", "std", "-vnc", f"unix:{spec.vnc_socket}"]
    else:
        argv += ["-display", "none"]
    if spec.agent_socket is not None:
        argv += [
            "-chardev", f"socket,id=qga0,path={spec.agent_socket},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        ]  # fmt: skip
    if spec.kernel is not None:
        argv += ["-kernel", str(spec.kernel), "-append", spec.cmdline]
        if spec.initrd is not None:
            argv += ["-initrd", str(spec.initrd)]
    # Disks in device order: the guest names virtio disks vda, vdb, ... by PCI slot.
    for i, d in enumerate(sorted(spec.disks, key=lambda d: (d.boot_index != 0, d.device))):
        drive = f"file={d.path},format=qcow2,if=none,id=disk{i},cache=writeback"
        if d.secret_file is not None:
            argv += ["-object", f"secret,id=sec{i},file={d.secret_file},format=raw"]
            drive += f",encrypt.key-secret=sec{i}"
        argv += [
            "-drive",
            drive,
            "-device",
            f"virtio-blk-pci,drive=disk{i},serial={d.volume_id[:20]}",
        ]
        if d.boot_index == 0 and spec.kernel is None:
            argv[-1] += ",bootindex=0"
    if spec.seed_iso is not None:
        argv += [
            "-drive", f"file={spec.seed_iso},format=raw,if=none,id=seed,readonly=on,media=cdrom",
            "-device", "ide-cd,drive=seed",
        ]  # fmt: skip
    return argv


def running_pid(workdir: Path, name: str) -> int | None:
    """Return the pid of the QEMU process named ``name`` when it is alive, else None."""
    try:
        pid = int((workdir / "qemu.pid").read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    # The pid may have been reused by another process: check it is our QEMU.
    if state in ("Z", "X") or f"{name},process={name}".encode() not in cmd:
        return None
    return pid


def launch(spec: VmSpec) -> None:
    """Start QEMU for ``spec``. Post: running with its QMP socket up, or HostFailure."""
    if shutil.which(QEMU) is None:
        raise HostFailure(f"{QEMU} is not installed on the host.")
    spec.pidfile.unlink(missing_ok=True)
    spec.qmp_socket.unlink(missing_ok=True)
    proc = subprocess.run(command_line(spec), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HostFailure(f"QEMU failed to start: {proc.stderr.strip()[-400:]}")
    if running_pid(spec.workdir, spec.name) is None:
        raise HostFailure("QEMU exited right after starting.")


def runtime_dir(data_dir: Path) -> Path:
    """Return this data dir's private (0700) runtime directory in the system temp dir.

    Holds QMP sockets (AF_UNIX paths are limited to 108 bytes, so they cannot live under a
    deep data dir) and the short-lived secret files QEMU reads at start-up.
    """
    import hashlib
    import tempfile

    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    runtime = Path(tempfile.gettempdir()) / f"ecslite-{os.getuid()}-{tag}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    st = runtime.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise HostFailure(f"{runtime} is not a private directory of this user.")
    return runtime


def qmp_socket_path(data_dir: Path, server_id: str) -> Path:
    return runtime_dir(data_dir) / f"{server_id}.qmp"


def agent_socket_path(data_dir: Path, server_id: str) -> Path:
    return runtime_dir(data_dir) / f"{server_id}.qga"


def vnc_socket_path(data_dir: Path, server_id: str) -> Path:
    return runtime_dir(data_dir) / f"{server_id}.vnc"


def shutdown(workdir: Path, name: str, *, qmp_socket: Path, timeout: float) -> None:
    """ACPI power-down; after ``timeout`` s, quit over QMP; last resort SIGKILL. Post: gone."""
    pid = running_pid(workdir, name)
    if pid is None:
        return
    if timeout > 0:
        with contextlib.suppress(QmpError), QmpClient(qmp_socket) as qmp:
            qmp.execute("system_powerdown")
        if _wait_gone(workdir, name, timeout):
            return
    with contextlib.suppress(QmpError), QmpClient(qmp_socket) as qmp:
        qmp.execute("quit")
    if _wait_gone(workdir, name, 10):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(workdir, name, 10):
        raise HostFailure("The guest's QEMU process did not exit.")


def _wait_gone(workdir: Path, name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while running_pid(workdir, name) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
