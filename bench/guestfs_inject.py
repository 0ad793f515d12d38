"""How long writing a password hash and a key into a guest's disk offline takes (the v1
reinstall's ``injectCredentials`` step and the offline password reset), with libguestfs.

    python bench/guestfs_inject.py [--base /var/cache/ecslite/images/debian-12/disk.qcow2]
                                   [--repeat 3] [--tcg | --no-tcg]

Each round writes into a fresh qcow2 overlay of the base image (what a new system disk is).
The first round on a host also builds libguestfs's appliance (cached afterwards, beside the
disks), so it is printed apart from the median of the others.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecslite.cloudinit.payload import hash_password
from ecslite.drivers.base import GuestCredentials
from ecslite.drivers.qemu import guestfs

DEBIAN = Path("/var/cache/ecslite/images/debian-12/disk.qcow2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", type=Path, default=DEBIAN)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tcg", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    creds = GuestCredentials(
        user="root",
        password_hash=hash_password("Bench-Inject-1"),
        public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBench b",),
    )
    times = []
    with tempfile.TemporaryDirectory(prefix="ecslite-inject-") as tmp:
        work = Path(tmp)
        for i in range(args.repeat):
            disk = work / f"disk-{i}.qcow2"
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                 "-b", str(args.base), str(disk)],
                check=True,
            )  # fmt: skip
            started = time.monotonic()
            guestfs.inject(disk, creds, work_dir=work, tcg=args.tcg)
            times.append(time.monotonic() - started)
            print(f"round {i + 1}: {times[-1]:.1f} s", flush=True)
    print(f"first (builds the appliance): {times[0]:.1f} s")
    if len(times) > 1:
        print(f"median of the others: {statistics.median(times[1:]):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
