"""Run every benchmark, print the tables, write bench/results/*.json and summary.md.

    .venv/bin/python -m bench            # full run, about 5-6 minutes on 2 cores
    .venv/bin/python -m bench --quick    # smaller samples, ~3 minutes
    make bench                           # same as the full run (installs .venv first)
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from bench import control_plane, inprocess, peer, profile
from bench.common import RESULTS, loadavg, machine, table, write_result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller samples")
    ap.add_argument("--fleet", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    info = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds")}
    sections: list[str] = []

    print("job machinery in-process ...", flush=True)
    inproc = inprocess.run(150 if args.quick else 300)
    write_result("inprocess", {**info, **inproc})
    sections.append(inprocess.render(inproc))

    runs = []
    for fleet in args.fleet:
        print(f"control plane, fleet {fleet} ...", flush=True)
        runs.append(control_plane.run_fleet(fleet, quick=args.quick))
    big = max(args.fleet)
    print(f"start-up with `serve --seed`, fleet {big} ...", flush=True)
    runs[-1]["serve_with_seed"] = control_plane.serve_with_seed(big)
    write_result("control_plane", {**info, "runs": runs})
    sections.append(control_plane.render(runs))
    sections.append(scale_table(runs))

    print("moto peer ...", flush=True)
    p = peer.run(min(args.fleet), quick=args.quick)
    write_result("peer", {**info, **p})
    sections.append(peer.render(p))

    if not args.no_profile:
        print("py-spy profile of a reinstall burst ...", flush=True)
        prof = profile.run(fleet=min(args.fleet), count=300)
        sections.append(profile.render(prof))

    info["finished_loadavg"] = loadavg()
    info["wall_s"] = round(time.perf_counter() - started, 1)
    header = (
        f"Machine: {info['machine']['nproc']} CPUs ({info['machine']['cpu_model']}), "
        f"{info['machine']['mem_total_gb']} GB RAM, Python {info['machine']['python']}, "
        f"kernel {info['machine']['kernel']}. Run started {info['started']}; load average "
        f"(1/5/15 min) at start {info['machine']['loadavg_1_5_15']}, at end "
        f"{info['finished_loadavg']}; the machine is shared, so other work ran concurrently. "
        f"Wall time {info['wall_s']} s.\n"
    )
    text = header + "\n" + "\n".join(sections)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(text)
    write_result("run", info)
    print(f"wrote {RESULTS}/summary.md and *.json")
    return 0


def scale_table(runs: list[dict]) -> str:  # type: ignore[type-arg]
    rows = []
    for r in runs:
        one = r["closed_loop"][0]
        b = r["burst"]
        gj = next(g for g in r["get"] if g["what"] == "job" and g["clients"] == 1)
        gs = next(g for g in r["get"] if g["what"] == "server")
        rows.append([
            r["fleet"], one["post_to_success"]["p50_ms"], one["post_to_success"]["p99_ms"],
            gj["latency"]["p50_ms"], gs["latency"]["p50_ms"], b["completed_per_s"],
            b["service_cpu_ms_per_reinstall"], r["rss_mb_end"],
        ])
    return table(
        "Scale: the same measurements against fleets of different sizes",
        ["fleet", "reinstall p50 ms (1 client)", "reinstall p99 ms (1 client)",
         "GET job p50 ms (1 client)", "GET server p50 ms (4 clients)", "reinstalls/s (burst)",
         "svc CPU ms/reinstall (burst)", "RSS MB"],
        rows,
    )


if __name__ == "__main__":
    raise SystemExit(main())
