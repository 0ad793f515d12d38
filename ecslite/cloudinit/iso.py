"""Write rendered seed files as an ISO 9660 image (Rock Ridge + Joliet names) with pycdlib."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pycdlib


def write_iso(files: dict[str, bytes], *, label: str, path: Path) -> None:
    """Write ``files`` (relative path -> bytes) to ``path`` atomically, volume label ``label``."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label)
    made: set[str] = set()
    names: dict[str, str] = {}

    def iso_name(rel: str) -> str:
        # ISO 9660 level-3 names are upper case; Rock Ridge and Joliet carry the real ones.
        if rel not in names:
            stem = "".join(c if c.isalnum() else "_" for c in rel.upper())[:30]
            names[rel] = stem
        return names[rel]

    for rel in sorted(files):
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            d = "/".join(parts[:depth])
            if d in made:
                continue
            parent_iso = "/" + "/".join(iso_name("/".join(parts[:i])) for i in range(1, depth))
            parent_iso = parent_iso.rstrip("/")
            iso.add_directory(
                f"{parent_iso}/{iso_name(d)}",
                rr_name=parts[depth - 1],
                joliet_path="/" + d,
            )
            made.add(d)
        iso_path = "/" + "/".join(iso_name("/".join(parts[: i + 1])) for i in range(len(parts)))
        data = files[rel]
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            iso_path + ";1",
            rr_name=parts[-1],
            joliet_path="/" + rel,
        )
    tmp = path.with_name(f".{path.name}.tmp")
    iso.write(str(tmp))
    iso.close()
    os.replace(tmp, path)
