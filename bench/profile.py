"""Profile the service with py-spy while it drains a burst of reinstalls; print the hot spots.

    .venv/bin/python -m bench.profile [--fleet 1000] [--count 400]

Writes bench/results/profile-<fleet>.txt (collapsed stacks, flamegraph.pl / speedscope input)
and prints the functions with the most samples, inclusive and self.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULTS, write_result
from bench.control_plane import POLL_S, _client, burst
from bench.ecslite_proc import EcsliteService


def _py_spy() -> str:
    exe = Path(sys.executable).with_name("py-spy")
    found = str(exe) if exe.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def summarize(collapsed: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Inclusive and self sample shares per function from py-spy's raw (collapsed) output."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        for f in set(frames[1:]):  # frame 0 is the thread name
            incl[f] += count
        self_[frames[-1]] += count
    share = lambda c: [(f, round(100 * n / total, 1)) for f, n in c.most_common(top)]  # noqa: E731
    return {"total_samples": [("samples", float(total))], "inclusive_pct": share(incl),
            "self_pct": share(self_)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fleet", type=int, default=1000)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--what", choices=["burst", "get_job"], default="burst")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile-{args.what}-{args.fleet}.txt"
    with EcsliteService(args.fleet) as svc:
        c = _client(svc, lambda m, u, h, b: dict(h))
        warm = c.reinstall(svc.tenant.server_ids[-1], keyname=svc.tenant.keyname,
                           userid=svc.tenant.user_id)
        c.wait_job(warm, poll_s=POLL_S)
        spy = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(svc.pid), "--rate", "250", "--format", "raw",
             "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let py-spy attach
        if args.what == "burst":
            result = burst(svc, clients=4, count=min(args.count, args.fleet - 1))
        else:
            end = time.perf_counter() + 4
            while time.perf_counter() < end:
                c.job(warm)
            result = {}
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        spy.wait(timeout=60)
        c.close()
    summary = summarize(out)
    print(f"profile of the service while: {args.what} (fleet {args.fleet}) {result}")
    for kind in ("inclusive_pct", "self_pct"):
        print(f"\n{kind}:")
        for f, p in summary[kind]:
            print(f"  {p:5.1f}%  {f}")
    write_result(f"profile-{args.what}-{args.fleet}", {"result": result, **summary})
    print(f"\ncollapsed stacks: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
