"""System-disk recreation time: qcow2 overlay (what the qemu driver does) vs a full copy.

    python bench/qemu_disks.py [--repeat 5] [--sizes 0.35,1.5]

For each image size a base qcow2 with that much allocated data is made (the first size can be
the cached Debian 12 image), then a system disk is recreated ``--repeat`` times both ways;
medians are printed with the copy/overlay ratio. Page cache is warm (the base was just
written or read), which favours the copy: the ratio is a lower bound.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecslite.drivers.qemu.disks import check_base, create_overlay

DEBIAN = Path("/var/cache/ecslite/images/debian-12/disk.qcow2")


def make_base(path: Path, gib: float) -> None:
    mib = int(gib * 1024)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), f"{mib}M"], check=True)
    # Allocate every cluster with a pattern so the file really holds ``gib`` of data.
    cmds: list[str] = []
    for off in range(0, mib, 256):
        cmds += ["-c", f"write -P 0xa5 {off}M {min(256, mib - off)}M"]
    subprocess.run(["qemu-io", "-f", "qcow2", *cmds, str(path)], check=True, capture_output=True)


def timed(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sizes", default="debian,2", help="GiB per base, or 'debian' (cached image)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp_s:
        tmp = Path(tmp_s)
        rows = []
        for size in args.sizes.split(","):
            if size == "debian":
                if not DEBIAN.exists():
                    print("skip debian: run `ecslite image build debian-12` first")
                    continue
                base = DEBIAN
            else:
                base = tmp / f"base-{size}.qcow2"
                make_base(base, float(size))
            actual = base.stat().st_size / 2**20
            n = 0

            def overlay(base: Path = base) -> None:
                nonlocal n
                n += 1
                check_base(base)  # the driver checks the base before every overlay
                create_overlay(tmp / f"ov-{n}.qcow2", base=base, size_gb=40)

            def copy(base: Path = base) -> None:
                nonlocal n
                n += 1
                shutil.copyfile(base, tmp / f"cp-{n}.qcow2")

            t_overlay = timed(overlay, args.repeat)
            t_copy = timed(copy, args.repeat)
            for f in tmp.glob("ov-*"):
                f.unlink()
            for f in tmp.glob("cp-*"):
                f.unlink()
            rows.append((size, actual, t_overlay, t_copy))
    print(f"{'image':>8} {'base MiB':>9} {'overlay ms':>11} {'full copy ms':>13} {'copy/overlay':>13}")
    for size, actual, t_o, t_c in rows:
        print(f"{size:>8} {actual:9.0f} {t_o * 1000:11.1f} {t_c * 1000:13.1f} {t_c / t_o:13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
