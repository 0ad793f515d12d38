"""The image store: one read-only base disk per image, plus kernel and initrd for direct boot.

Layout under the data dir::

    images/<image_id>/disk.qcow2     base disk (mode 0444; overlays point at it)
    images/<image_id>/vmlinuz        optional: direct kernel boot
    images/<image_id>/initrd.img     optional, with vmlinuz
    images/<image_id>/image.json     manifest: name, cloud_init, cmdline

A base is never written after import: every system disk is an overlay on it, so changing it
would corrupt every disk made from it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CMDLINE = "root=/dev/vda rw console=ttyS0"


@dataclass(frozen=True)
class ImageFiles:
    """Where one image's files are and how to boot it."""

    image_id: str
    disk: Path
    kernel: Path | None
    initrd: Path | None
    cmdline: str

    @property
    def direct_boot(self) -> bool:
        return self.kernel is not None


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def dir_for(self, image_id: str) -> Path:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ValueError(f"bad image id {image_id!r}")
        return self.root / image_id

    def get(self, image_id: str) -> ImageFiles | None:
        """Return the files of ``image_id``, or None when it has none in this store."""
        d = self.dir_for(image_id)
        manifest = d / "image.json"
        if not manifest.exists():
            return None
        meta: dict[str, Any] = json.loads(manifest.read_text())
        kernel = d / "vmlinuz" if (d / "vmlinuz").exists() else None
        initrd = d / "initrd.img" if (d / "initrd.img").exists() else None
        return ImageFiles(
            image_id=image_id,
            disk=d / "disk.qcow2",
            kernel=kernel,
            initrd=initrd,
            cmdline=str(meta.get("cmdline") or DEFAULT_CMDLINE),
        )

    def add(
        self,
        image_id: str,
        *,
        name: str,
        disk: Path,
        kernel: Path | None = None,
        initrd: Path | None = None,
        cloud_init: bool = True,
        cmdline: str | None = None,
    ) -> ImageFiles:
        """Copy (or hard-link) the files in; re-adding the same id replaces nothing.

        ``disk`` must already be qcow2 (``ecslite image import`` converts other formats).
        Post: ``get(image_id)`` returns the files; on failure no partial directory is left.
        """
        existing = self.get(image_id)
        if existing is not None:
            return existing
        final = self.dir_for(image_id)
        tmp = final.with_name(f".{image_id}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _place(disk, tmp / "disk.qcow2")
            if kernel is not None:
                _place(kernel, tmp / "vmlinuz")
                if initrd is not None:
                    _place(initrd, tmp / "initrd.img")
            meta = {"name": name, "cloud_init": cloud_init, "cmdline": cmdline or DEFAULT_CMDLINE}
            (tmp / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        got = self.get(image_id)
        assert got is not None
        return got

    def remove(self, image_id: str) -> None:
        """Delete the image's files (only when no disk is layered on them any more)."""
        final = self.dir_for(image_id)
        if not final.exists():
            return
        gone = final.with_name(f".{image_id}.gone-{os.getpid()}")
        os.replace(final, gone)
        shutil.rmtree(gone, ignore_errors=True)


def _place(src: Path, dst: Path) -> None:
    """Hard-link ``src`` when it is read-only and on the same filesystem, else copy it."""
    try:
        if src.stat().st_mode & 0o222 == 0:
            os.link(src, dst)
            return
    except OSError:
        pass
    shutil.copyfile(src, dst)
    dst.chmod(0o444)
