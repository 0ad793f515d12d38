"""Per-disk data keys of encrypted disks: wrapped at rest, plaintext only for a moment.

An encrypted disk's data key is generated and wrapped by the project's CMK through ``DataKeys``
(ecslite's KMS store implements it, handed in by the composition root) and kept only wrapped,
beside the disk as ``volumes/<volume_id>.dek`` (JSON naming its CMK and project). The plaintext
exists in a 0600 file in the private runtime dir for the moment qemu-img or QEMU reads it, then
is removed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ecslite.domain.server import Volume
from ecslite.drivers.base import EncryptionKeyError


class DataKeys(Protocol):
    """Envelope encryption of per-disk data keys (ecslite's KMS store implements it)."""

    def generate_data_key(self, *, cmk_id: str, project_id: str) -> tuple[bytes, bytes]: ...

    def decrypt(self, wrapped: bytes, *, cmk_id: str, project_id: str) -> bytes: ...


def write_json(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically (a crash leaves old or new)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


class DiskKeys:
    """The data keys of the encrypted disks in ``volumes_dir``."""

    def __init__(self, volumes_dir: Path, data_keys: DataKeys | None) -> None:
        self.volumes_dir = volumes_dir
        self.data_keys = data_keys

    def path(self, volume_id: str) -> Path:
        return self.volumes_dir / f"{volume_id}.dek"

    def has_key(self, volume_id: str) -> bool:
        return self.path(volume_id).exists()

    def forget(self, volume_id: str) -> None:
        """Remove the wrapped key (with its disk: without it the disk cannot be opened)."""
        self.path(volume_id).unlink(missing_ok=True)

    def existing(self, volume_id: str) -> bytes:
        """Return the plaintext of a disk's existing data key (its record names its CMK)."""
        return self._open(volume_id, cmk_id=None, project_id="")

    def for_volume(self, volume: Volume) -> bytes:
        """Return the volume's plaintext data key, creating and wrapping one on first use."""
        return self._open(volume.id, cmk_id=volume.cmk_id, project_id=volume.project_id)

    def _open(self, volume_id: str, *, cmk_id: str | None, project_id: str) -> bytes:
        if self.data_keys is None:
            raise EncryptionKeyError("Disk encryption is not configured on this host.")
        path = self.path(volume_id)
        try:
            if path.exists():
                rec = json.loads(path.read_text())
                return self.data_keys.decrypt(
                    base64.b64decode(rec["wrapped"]),
                    cmk_id=rec["cmk_id"],
                    project_id=rec["project_id"],
                )
            if not cmk_id:
                raise EncryptionKeyError("An encrypted disk needs a CMK.")
            plain, wrapped = self.data_keys.generate_data_key(cmk_id=cmk_id, project_id=project_id)
        except EncryptionKeyError:
            raise
        except Exception as exc:  # the KMS store's refusal, translated at the boundary
            raise EncryptionKeyError(f"Invalid disk encryption key: {exc}") from exc
        rec = {
            "cmk_id": cmk_id,
            "project_id": project_id,
            "wrapped": base64.b64encode(wrapped).decode(),
        }
        write_json(path, rec)
        return plain

    @contextlib.contextmanager
    def secret_files(self, runtime: Path, keys: dict[str, bytes]) -> Iterator[dict[str, Path]]:
        """Write each data key (hex) to a 0600 file in ``runtime`` for QEMU; remove them after."""
        paths: dict[str, Path] = {}
        try:
            for volume_id, key in keys.items():
                path = runtime / f"{volume_id}.{secrets.token_hex(4)}.secret"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(key.hex())
                paths[volume_id] = path
            yield paths
        finally:
            for path in paths.values():
                path.unlink(missing_ok=True)
