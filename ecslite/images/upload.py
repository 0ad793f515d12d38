"""An image file arriving through Glance: streamed to disk, hashed as it comes, checked by its
header, then handed to the image store.

The bytes go straight to a file under ``images/.staging`` (never held whole in memory); MD5
(Glance's ``checksum``) and SHA-512 (``os_hash_value``) are computed on the way. The format is
read from the file, never taken from the request: a qcow2 file starts with ``QFI\\xfb``; a
qcow2 that names a backing file or an external data file is refused (it would make the guest
read a file of the host's choosing); anything else is raw. A file bigger than ``max_bytes`` is
cut off and refused. Whatever goes wrong, the staged file is removed (``discard``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

QCOW2_MAGIC = b"QFI\xfb"
# qcow2 v3 incompatible feature bit 2: the guest data lives in another (named) file.
_EXTERNAL_DATA_FILE = 1 << 2


class ImageDataError(Exception):
    """The bytes are not an image of the declared format (the message says why)."""


class ImageTooLarge(Exception):
    """More bytes arrived than the limit allows."""


@dataclass(frozen=True)
class StagedImage:
    path: Path
    size: int
    md5: str
    sha512: str
    disk_format: str  # "qcow2" or "raw", as read from the file
    virtual_size: int


def detect_format(head: bytes, size: int) -> tuple[str, int]:
    """(format, virtual size) from the file's first bytes; ``ImageDataError`` for a qcow2 that
    points outside itself."""
    if not head.startswith(QCOW2_MAGIC):
        return "raw", size
    if len(head) < 32:
        raise ImageDataError("truncated qcow2 header")
    version, backing_offset, backing_size = struct.unpack(">IQI", head[4:20])
    (virtual_size,) = struct.unpack(">Q", head[24:32])
    if backing_offset != 0 or backing_size != 0:
        raise ImageDataError("a qcow2 image with a backing file is not accepted")
    if version >= 3 and len(head) >= 80:
        (incompatible,) = struct.unpack(">Q", head[72:80])
        if incompatible & _EXTERNAL_DATA_FILE:
            raise ImageDataError("a qcow2 image with an external data file is not accepted")
    return "qcow2", virtual_size


class Staging:
    """One file being received. ``write`` each chunk, then ``finish`` (or ``discard``)."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = root / f"upload-{uuid.uuid4().hex}"
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed by finish/discard
        self._max = max_bytes
        self._size = 0
        self._head = b""
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self._max:
            raise ImageTooLarge(f"over {self._max} bytes")
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        self._md5.update(chunk)
        self._sha512.update(chunk)
        self._file.write(chunk)

    def finish(self) -> StagedImage:
        """Close the file and read what it is; ``ImageDataError`` if it is no usable image."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._size == 0:
            raise ImageDataError("no image data was sent")
        fmt, virtual = detect_format(self._head, self._size)
        return StagedImage(
            path=self.path,
            size=self._size,
            md5=self._md5.hexdigest(),
            sha512=self._sha512.hexdigest(),
            disk_format=fmt,
            virtual_size=virtual,
        )

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


def as_qcow2(staged: StagedImage) -> Path | None:
    """The staged file as qcow2 (what every system disk is layered on): itself, or a raw file
    converted with ``qemu-img``; None when a raw file cannot be converted here (no qemu-img:
    then no qemu guest can boot it anyway)."""
    if staged.disk_format == "qcow2":
        return staged.path
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        return None
    out = staged.path.with_name(staged.path.name + ".qcow2")
    subprocess.run(
        [qemu_img, "convert", "-q", "-f", "raw", "-O", "qcow2", str(staged.path), str(out)],
        check=True,
        capture_output=True,
    )
    return out
