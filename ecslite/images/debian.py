"""Build a small Debian 12 cloud image from Debian packages (debootstrap, no loop mounts).

Two variants: ``debian-12`` with cloud-init, and ``debian-12-nocloud`` without it (for the v1
reinstall API, whose credentials are written into the disk before it boots): that one takes
its network by DHCP and makes its SSH host key at first boot, which cloud-init does otherwise.
Both ship the QEMU guest agent (one-click password reset) and a login on the screen's first
console (the remote console) beside the serial one.

The result is cached per machine (default ``/var/cache/ecslite/images/debian-12``): a base
qcow2 with an ext4 root filesystem and no partition table, plus the kernel and initrd for
direct kernel boot. Building needs root (debootstrap chroots) and network access to a Debian
mirror; reusing the cache needs neither.

Pitfalls this handles (measured on the CI machine kind): cloud-init's python3-cryptography
needs ``python3-cffi-backend`` at debootstrap time; initramfs-tools needs ``FSTYPE=ext4`` or the
guest boots without fsck; the cloud kernel loads virtio_blk from the initrd, so both are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_CACHE = Path("/var/cache/ecslite/images")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
ROOTFS_SIZE = "1536M"
# Bump when the recipe changes, so machines with an older cached build rebuild it.
# 3: root may log in over SSH with a password (set by adminpass); units a cloud guest does not
#    need at first boot are masked.
# 4: qemu-guest-agent; a getty on tty1 (the remote console's screen); the nocloud variant.
RECIPE = 4
VARIANTS = ("debian-12", "debian-12-nocloud")
CLOUD_INIT_PACKAGES = ["cloud-init", "python3-cffi-backend"]
PACKAGES = [
    "systemd-sysv",
    "udev",
    "dbus",
    "openssh-server",
    "qemu-guest-agent",
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "zstd",
    "ifupdown",
    "isc-dhcp-client",
    "e2fsprogs",
    "iproute2",
    "netbase",
    "ca-certificates",
]
# The image's own cloud-init settings. ConfigDrive first: that is the medium ecslite writes
# (and the one Huawei/OTC images look for); NoCloud so a hand-made seed also works.
CLOUD_CFG = """\
# Written by ecslite image build.
datasource_list: [ ConfigDrive, NoCloud, None ]
disable_root: false
ssh_pwauth: true
# RSA host-key generation takes tens of seconds under TCG emulation.
ssh_genkeytypes: [ ed25519 ]
# The image carries no locale data (kept small); generating one fails and costs seconds.
locale: false
"""

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    pass


def cached(cache_dir: Path, name: str = "debian-12") -> Path | None:
    """Return the cached build directory when a complete build of this recipe exists."""
    d = cache_dir / name
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return d if manifest.get("recipe") == RECIPE else None


def build_debian12(
    cache_dir: Path = DEFAULT_CACHE,
    *,
    mirror: str = DEFAULT_MIRROR,
    progress: Progress = print,
    force: bool = False,
    name: str = "debian-12",
) -> Path:
    """Build (or reuse) the Debian 12 image; return its directory.

    Post: ``DIR/disk.qcow2``, ``DIR/vmlinuz``, ``DIR/initrd.img`` and ``DIR/manifest.json``
    exist and are read-only. An interrupted build leaves only a ``.build-*`` directory that the
    next build removes.
    """
    if name not in VARIANTS:
        raise BuildError(f"Unknown image {name!r}: one of {', '.join(VARIANTS)}.")
    cloud_init = name == "debian-12"
    packages = PACKAGES + (CLOUD_INIT_PACKAGES if cloud_init else [])
    done = cached(cache_dir, name)
    if done is not None and not force:
        progress(f"reusing cached image {done}")
        return done
    if os.geteuid() != 0:
        raise BuildError("ecslite image build needs root (debootstrap chroots); run it with sudo.")
    for tool in ("debootstrap", "mkfs.ext4", "qemu-img"):
        if shutil.which(tool) is None:
            raise BuildError(
                f"{tool} not found; install: apt-get install debootstrap e2fsprogs qemu-utils"
            )
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f".build-{name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = cache_dir / f".build-{name}-{os.getpid()}"
    root = work / "rootfs"
    out = work / "out"
    out.mkdir(parents=True)
    started = time.monotonic()

    def step(msg: str) -> None:
        progress(f"[{time.monotonic() - started:6.1f}s] {msg}")

    try:
        step(f"debootstrap bookworm from {mirror} ({len(packages)} extra packages)")
        debs = cache_dir / "debs"
        debs.mkdir(exist_ok=True)
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--cache-dir={debs}",
                f"--include={','.join(packages)}",
                "bookworm",
                str(root),
                mirror,
            ],
            step,
        )
        step("configuring the root filesystem")
        _configure(root, step, cloud_init=cloud_init)
        step("building the ext4 filesystem (mkfs.ext4 -d)")
        raw = work / "rootfs.raw"
        _run(["mkfs.ext4", "-q", "-L", "rootfs", "-d", str(root), str(raw), ROOTFS_SIZE], step)
        step("converting to qcow2")
        _run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(out / "disk.qcow2")], step)
        raw.unlink()
        kernel = sorted((root / "boot").glob("vmlinuz-*"))[-1]
        initrd = sorted((root / "boot").glob("initrd.img-*"))[-1]
        shutil.copyfile(kernel, out / "vmlinuz")
        shutil.copyfile(initrd, out / "initrd.img")
        manifest = {
            "name": name,
            "recipe": RECIPE,
            "kernel_version": kernel.name.removeprefix("vmlinuz-"),
            "rootfs_size": ROOTFS_SIZE,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.monotonic() - started, 1),
            # The nocloud variant names its NIC eth0 (its ifupdown stanza cannot match a
            # pattern); cloud-init matches the NIC by its MAC address instead.
            "cmdline": "root=/dev/vda rw console=ttyS0" + ("" if cloud_init else " net.ifnames=0"),
            "cloud_init": cloud_init,
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for f in out.iterdir():
            f.chmod(0o444)
        final = cache_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(out, final)
        step(f"done: {final}")
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


NOCLOUD_KEYGEN_UNIT = """\
[Unit]
Description=SSH host key at first boot (what cloud-init does in the cloud-init image)
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
# Only ed25519: RSA host-key generation takes tens of seconds under TCG emulation.
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
RequiredBy=ssh.service
"""


def _configure(root: Path, step: Progress, *, cloud_init: bool = True) -> None:
    etc = root / "etc"
    (etc / "fstab").write_text("LABEL=rootfs / ext4 defaults,errors=remount-ro 0 1\n")
    (etc / "hostname").write_text("debian\n")
    (etc / "machine-id").write_text("")
    conf = etc / "initramfs-tools" / "conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    # MODULES=list: only what these guests need early, so the initrd is small and the emulated
    # boot does not probe hundreds of modules ("dep" would pick the build host's disk drivers).
    # The root disk is virtio; the config drive is an IDE cdrom, and it must exist when
    # cloud-init's ds-identify runs (a systemd generator), or cloud-init disables itself.
    (conf / "ecslite").write_text("FSTYPE=ext4\nMODULES=list\n")
    with (etc / "initramfs-tools" / "modules").open("a") as fh:
        fh.write("virtio_pci\nvirtio_blk\next4\nata_piix\nsr_mod\ncdrom\nisofs\n")
    interfaces = "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n"
    if cloud_init:
        (etc / "cloud" / "cloud.cfg.d" / "90_ecslite.cfg").write_text(CLOUD_CFG)
    else:
        # No cloud-init to configure the NIC: DHCP (the user-mode network's server hands out
        # the fixed IP the API shows), and an SSH host key made at first boot.
        interfaces += "auto eth0\niface eth0 inet dhcp\n"
        units = etc / "systemd" / "system"
        (units / "ecslite-ssh-keygen.service").write_text(NOCLOUD_KEYGEN_UNIT)
        wants = units / "ssh.service.requires"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "ecslite-ssh-keygen.service").symlink_to("../ecslite-ssh-keygen.service")
    # With cloud-init, only the loopback here: cloud-init writes the NIC's (static)
    # configuration from the config drive's network_data.json into interfaces.d at first boot.
    (etc / "network" / "interfaces").write_text(interfaces)
    # As on the public cloud's Linux images: root logs in with the password set at reinstall
    # (adminpass) as well as with a key; without it sshd refuses root passwords.
    sshd_conf = etc / "ssh" / "sshd_config.d"
    sshd_conf.mkdir(parents=True, exist_ok=True)
    (sshd_conf / "50-ecslite.conf").write_text(
        "PermitRootLogin yes\nPasswordAuthentication yes\nUseDNS no\n"
    )
    # Timers and checks that only cost time in a short-lived emulated guest's first boot.
    for unit in (
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "e2scrub_all.timer",
        "e2scrub_reap.service",
        "dpkg-db-backup.timer",
        "fstrim.timer",
    ):
        (etc / "systemd" / "system" / unit).unlink(missing_ok=True)
        (etc / "systemd" / "system" / unit).symlink_to("/dev/null")
    _run(["chroot", str(root), "update-initramfs", "-u", "-k", "all"], step)
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    for sub in (
        "var/lib/cloud",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
        "var/cache/apt",
    ):
        d = root / sub
        if d.exists():
            shutil.rmtree(d)
            d.mkdir()


def _run(cmd: list[str], step: Progress) -> None:
    """Run ``cmd``, relaying its progress lines; raise BuildError with its tail on failure."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = [*tail[-19:], line]
        # debootstrap prints one "I: ..." line per phase/package: enough to show it is alive.
        if line.startswith(
            (
                "I: Retrieving Release",
                "I: Validating Packages",
                "I: Base system",
                "I: Installing core",
                "I: Configuring",
                "I: Unpacking the base",
                "W:",
                "E:",
            )
        ):
            step(f"  {line}")
    if proc.wait() != 0:
        raise BuildError(f"{cmd[0]} failed (exit {proc.returncode}):\n" + "\n".join(tail))
