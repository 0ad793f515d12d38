"""What a qemu host offers placement: its CPUs, its RAM and the free disk of its data dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ecslite.domain.host import Capacity


def machine_capacity(data_dir: Path) -> Capacity:
    """This machine's CPUs, RAM (/proc/meminfo's MemTotal) and ``data_dir``'s free disk."""
    ram_mb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_mb = int(line.split()[1]) // 1024
                break
    except OSError:
        pass
    return Capacity(
        vcpus=os.cpu_count() or 1,
        ram_mb=ram_mb,
        disk_gb=shutil.disk_usage(data_dir).free // 1024**3,
    )
