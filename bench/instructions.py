"""Instructions per reinstall (job machinery, no HTTP), counted by callgrind: repeatable on a
loaded machine, where CPU time is not.

Runs ``bench.reinstall_cost`` under ``valgrind --tool=callgrind`` twice, with ``--n A`` and
``--n B`` reinstalls after the same start-up and warm-up, and divides the difference of the
instruction totals by B - A, so start-up, seeding and warm-up cancel out (the bench's key pair
is a fixed one and the hash seed is pinned, so start-up costs the same in both runs).

    .venv/bin/python -m bench.instructions [--a 10] [--b 40] [--fleet 100]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def instructions(n: int, fleet: int) -> int:
    """Total instructions (Ir) of one ``bench.reinstall_cost`` process doing ``n`` reinstalls."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="ecslite-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-m", "bench.reinstall_cost", "--n", str(n), "--fleet", str(fleet)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if found is None:
            raise SystemExit(f"no instruction total in callgrind's output:\n{proc.stderr[-2000:]}")
        return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--a", type=int, default=10)
    ap.add_argument("--b", type=int, default=40)
    ap.add_argument("--fleet", type=int, default=100)
    args = ap.parse_args(argv)
    ia = instructions(args.a, args.fleet)
    ib = instructions(args.b, args.fleet)
    per = (ib - ia) / (args.b - args.a)
    print(f"instructions: n={args.a}: {ia:,}  n={args.b}: {ib:,}")
    print(f"instructions per reinstall: {per / 1e6:.2f} M")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
