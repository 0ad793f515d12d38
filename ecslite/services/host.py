"""Operator tasks on this host's guest images and QEMU guests, for the CLI (``ecslite image``,
``ecslite guests``, ``serve --demo`` with the qemu driver). They touch the data dir and the
image cache only, never the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecslite.drivers.qemu import QemuDriver
from ecslite.images.debian import DEFAULT_MIRROR, BuildError, build_debian12
from ecslite.images.store import ImageStore

__all__ = [
    "DEFAULT_MIRROR",
    "BuildError",
    "GuestHost",
    "ImageListing",
    "add_image_files",
    "build_debian_image",
    "guests",
    "list_images",
]


def build_debian_image(
    cache: Path,
    *,
    mirror: str,
    progress: Callable[[str], None],
    force: bool = False,
    name: str = "debian-12",
) -> Path:
    """Build (or reuse from ``cache``) a Debian 12 image (``name``: with or without cloud-init);
    ``BuildError`` says why not."""
    return build_debian12(cache, mirror=mirror, progress=progress, force=force, name=name)


def add_image_files(
    data_dir: Path,
    image_id: str,
    *,
    name: str,
    disk: Path,
    kernel: Path | None,
    initrd: Path | None,
    cloud_init: bool,
    cmdline: str | None,
) -> None:
    """Put an image's files into the data dir's image store (idempotent, read-only bases)."""
    ImageStore(data_dir / "images").add(
        image_id,
        name=name,
        disk=disk,
        kernel=kernel,
        initrd=initrd,
        cloud_init=cloud_init,
        cmdline=cmdline,
    )


@dataclass(frozen=True)
class ImageListing:
    id: str
    name: str
    cloud_init: bool
    direct_boot: bool


def list_images(data_dir: Path) -> list[ImageListing]:
    root = data_dir / "images"
    store = ImageStore(root)
    out = []
    for d in sorted(root.iterdir()) if root.exists() else []:
        files = store.get(d.name)
        if files is None:
            continue
        meta = json.loads((d / "image.json").read_text())
        out.append(ImageListing(d.name, meta["name"], bool(meta["cloud_init"]), files.direct_boot))
    return out


# What ``ecslite guests`` acts on: the qemu driver of a data dir, used without a store.
GuestHost = QemuDriver


def guests(data_dir: Path) -> GuestHost | None:
    """The data dir's QEMU guests (found by their pidfiles), or None when it has none."""
    if not (data_dir / "servers").is_dir():
        return None
    return QemuDriver(data_dir)
