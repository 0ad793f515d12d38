"""Profile the service with py-spy while it drains a burst of reinstalls; print the hot spots.

    .venv/bin/python -m bench.profile [--fleet 1000] [--count 400]

Writes bench/results/profile-<fleet>.txt (collapsed stacks, flamegraph.pl / speedscope input)
and prints the functions with the most samples, inclusive and self.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_result
from bench.control_plane import POLL_S, _client, burst
from bench.ecslite_proc import EcsliteService


def _py_spy() -> str:
    exe = Path(sys.executable).with_name("py-spy")
    found = str(exe) if exe.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


# py-spy's own idle detection misses these waits on this kernel, so they are dropped here.
_IDLE_LEAVES = ("Condition.wait ", "EpollSelector.select ", "Event.wait ", "Queue.get ",
                "Thread.join ", "_wait_for_tstate_lock ")


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
        leaf = stack.rsplit(";", 1)[-1]
        if any(leaf.startswith(idle) for idle in _IDLE_LEAVES):
            continue  # a thread waiting for work, not doing any
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        for f in set(frames[1:]):  # frame 0 is the thread name
            incl[f] += count
        self_[frames[-1]] += count
    share = lambda c: [(f, round(100 * n / total, 1)) for f, n in c.most_common(top)]  # noqa: E731
    return {"total_samples": [("samples", float(total))], "inclusive_pct": share(incl),
            "self_pct": share(self_)}


def run(*, fleet: int, count: int, what: str = "burst", gil: bool = True) -> dict[str, Any]:
    """Profile the service during ``what``. With ``gil`` (the default) only the thread holding
    the GIL is sampled, so the shares are of the Python CPU time; without it every busy thread
    is sampled, which shows where threads wait (locks, SQLite) as well."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"profile-{what}-{fleet}.txt"
    with EcsliteService(fleet) as svc:
        c = _client(svc)
        warm = c.reinstall(svc.tenant.server_ids[-1], keyname=svc.tenant.keyname,
                           userid=svc.tenant.user_id)
        c.wait_job(warm, poll_s=POLL_S)
        spy = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(svc.pid), "--rate", "250", "--format", "raw",
             "--output", str(out), "--nonblocking", *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let py-spy attach
        if what == "burst":
            result = burst(svc, clients=4, count=min(count, fleet - 1))
        else:
            end = time.perf_counter() + 4
            n = 0
            while time.perf_counter() < end:
                c.job(warm)
                n += 1
            result = {"get_job_requests": n}
        spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        spy.wait(timeout=60)
        c.close()
    summary = summarize(out)
    payload = {"what": what, "fleet": fleet, "gil_only": gil, "result": result,
               "collapsed_stacks": str(out),
               **summary}
    write_result(f"profile-{what}-{fleet}", payload)
    return payload


def render(p: dict[str, Any], top: int = 12) -> str:
    lines = [f"### Profile (py-spy, service process) while: {p['what']}, fleet {p['fleet']}", "",
             f"Collapsed stacks: `{p['collapsed_stacks']}`. "
             + ("Share of the samples of the thread holding the GIL, i.e. of the Python CPU "
                "time (SQLite's own C work releases the GIL and is not in it)."
                if p.get("gil_only") else
                "Share of the samples in which a thread was busy or blocked (threads idle "
                "waiting for work are left out)."), "",
             "| inclusive % | function | | self % | function |", "|--|--|--|--|--|"]
    for (fi, pi), (fs, ps) in zip(p["inclusive_pct"][:top], p["self_pct"][:top], strict=False):
        lines.append(f"| {pi} | `{fi}` | | {ps} | `{fs}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fleet", type=int, default=1000)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--what", choices=["burst", "get_job"], default="burst")
    ap.add_argument("--all-threads", action="store_true", help="sample blocked threads too")
    args = ap.parse_args(argv)
    p = run(fleet=args.fleet, count=args.count, what=args.what, gil=not args.all_threads)
    print(f"result: {p['result']}")
    print(render(p, top=25))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
