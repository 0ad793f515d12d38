"""Control plane: reinstall latency and throughput, GET rates, CPU and RSS, per fleet size.

Real HTTP against a real ``ecslite serve`` (sim driver, zero delay, SQLite). Every reinstall is
``mode: withStopServer`` with a key pair on an ACTIVE server, so every job runs all seven steps
(stop, detach, create, attach, inject, delete old, start), and a server is reusable once its
job is SUCCESS.

    .venv/bin/python -m bench.control_plane --fleet 1000 10000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.client import EcsHttp, Signer, sdk_hmac
from bench.common import loadavg, machine, summarize_ms, table, write_result
from bench.ecslite_proc import EcsliteService
from bench.load import run_threads, timed_loop

# How long a client sleeps between two GET job polls while it waits for SUCCESS. Polls cost
# the service CPU too, so a tighter loop measures the end of a job more precisely but slows it.
POLL_S = 0.002


def _client(svc: EcsliteService, signer: Signer | None = None) -> EcsHttp:
    """A client for the bench tenant; requests are AK/SK-signed unless ``signer`` says else."""
    t = svc.tenant
    return EcsHttp(
        svc.base, t.project_id, signer=signer or sdk_hmac(t.access_key, t.secret_key, t.project_id)
    )


def closed_loop(
    svc: EcsliteService, *, clients: int, per_client: int, signer: Signer | None = None
) -> dict[str, Any]:
    """Each client: POST reinstall, poll GET job to SUCCESS, repeat on its own servers."""
    t = svc.tenant
    slice_len = len(t.server_ids) // clients

    def work(i: int) -> dict[str, list[float] | int]:
        c = _client(svc, signer)
        mine = t.server_ids[i * slice_len : (i + 1) * slice_len]
        e2e: list[float] = []
        posts: list[float] = []
        gets: list[float] = []
        failed = 0
        try:
            for k in range(per_client):
                sid = mine[k % len(mine)]
                t0 = time.perf_counter()
                job_id = c.reinstall(sid, keyname=t.keyname, userid=t.user_id)
                posts.append(time.perf_counter() - t0)
                job = c.wait_job(job_id, poll_s=POLL_S, gets=gets)
                e2e.append(time.perf_counter() - t0)
                failed += job["status"] != "SUCCESS"
        finally:
            c.close()
        return {"e2e": e2e, "posts": posts, "gets": gets, "failed": failed}

    cpu0 = svc.cpu()
    results, wall = run_threads(clients, work)
    cpu = svc.cpu() - cpu0
    e2e = [x for r in results for x in r["e2e"]]  # type: ignore[union-attr]
    posts = [x for r in results for x in r["posts"]]  # type: ignore[union-attr]
    gets = [x for r in results for x in r["gets"]]  # type: ignore[union-attr]
    n = len(e2e)
    return {
        "clients": clients,
        "reinstalls": n,
        "failed": sum(int(r["failed"]) for r in results),  # type: ignore[call-overload]
        "post_to_success": summarize_ms(e2e),
        "post_accept": summarize_ms(posts),
        "get_job_while_polling": summarize_ms(gets),
        "polls_per_reinstall": round(len(gets) / n, 1),
        "completed_per_s": round(n / wall, 1),
        "service_cpu_ms_per_reinstall_incl_polls": round(cpu / n * 1000, 2),
        "wall_s": round(wall, 2),
    }


def _rebuilding(c: EcsHttp) -> int:
    return int(c.call("GET", f"/v1/{c.project_id}/cloudservers/detail?status=REBUILD&limit=1")["count"])


def burst(
    svc: EcsliteService, *, clients: int, count: int, signer: Signer | None = None
) -> dict[str, Any]:
    """Open loop: POST ``count`` reinstalls (distinct servers) as fast as C clients can; then
    wait for the queue to drain. Gives accepted/s, completed/s and CPU per reinstall."""
    t = svc.tenant
    ids = t.server_ids[:count]
    per = len(ids) // clients

    def work(i: int) -> tuple[list[str], list[float]]:
        c = _client(svc, signer)
        jobs, lat = [], []
        try:
            for sid in ids[i * per : (i + 1) * per]:
                t0 = time.perf_counter()
                jobs.append(c.reinstall(sid, keyname=t.keyname, userid=t.user_id))
                lat.append(time.perf_counter() - t0)
        finally:
            c.close()
        return jobs, lat

    watcher = _client(svc, signer)
    cpu0 = svc.cpu()
    t0 = time.perf_counter()
    results, accept_wall = run_threads(clients, work)
    n = sum(len(j) for j, _ in results)
    # One cheap count query every 20 ms tells when every server has left REBUILD.
    polls = 0
    while _rebuilding(watcher):
        polls += 1
        time.sleep(0.02)
    drain_wall = time.perf_counter() - t0
    cpu = svc.cpu() - cpu0
    statuses: dict[str, int] = {}
    for jobs, _ in results:
        for j in jobs[:: max(1, len(jobs) // 50)]:  # spot-check a sample: all must be SUCCESS
            s = watcher.job(j)["status"]
            statuses[s] = statuses.get(s, 0) + 1
    watcher.close()
    return {
        "clients": clients,
        "reinstalls": n,
        "sampled_job_status": statuses,
        "post_accept": summarize_ms([x for _, lat in results for x in lat]),
        "accepted_per_s": round(n / accept_wall, 1),
        "completed_per_s": round(n / drain_wall, 1),
        "drain_wall_s": round(drain_wall, 2),
        "service_cpu_ms_per_reinstall": round(cpu / n * 1000, 2),
        "watcher_polls": polls,
    }


def get_rate(
    svc: EcsliteService, *, what: str, clients: int, seconds: float, target: str,
    signer: Signer | None = None,
) -> dict[str, Any]:
    """C clients issue one kind of GET back to back for ``seconds``."""

    def work(i: int) -> list[float]:
        c = _client(svc, signer)
        op = {
            "job": lambda: c.job(target),
            "server": lambda: c.server(target),
            "list50": lambda: c.list_servers(limit=50),
        }[what]
        try:
            return timed_loop(seconds, op)
        finally:
            c.close()

    cpu0 = svc.cpu()
    results, wall = run_threads(clients, work)
    cpu = svc.cpu() - cpu0
    lat = [x for r in results for x in r]
    return {
        "what": what,
        "clients": clients,
        "requests": len(lat),
        "req_per_s": round(len(lat) / wall, 1),
        "latency": summarize_ms(lat),
        "service_cpu_ms_per_req": round(cpu / len(lat) * 1000, 3),
    }


def run_fleet(fleet: int, *, quick: bool = False, signer: Signer | None = None) -> dict[str, Any]:
    """The whole control-plane suite on one freshly started service with ``fleet`` servers."""
    scale = 0.4 if quick else 1.0
    out: dict[str, Any] = {"fleet": fleet, "poll_s": POLL_S, "load_before": loadavg()}
    with EcsliteService(fleet) as svc:
        out["seed_s"] = round(svc.seed_s, 2)
        out["startup_s"] = round(svc.startup_s, 2)
        out["rss_mb_idle"] = round(svc.rss(), 1)
        c = _client(svc, signer)
        # Warm-up: first requests pay for imports, caches and SQLite page loads.
        warm = c.reinstall(svc.tenant.server_ids[-1], keyname=svc.tenant.keyname,
                           userid=svc.tenant.user_id)
        c.wait_job(warm, poll_s=POLL_S)
        c.close()
        out["closed_loop"] = [
            closed_loop(svc, clients=1, per_client=int(150 * scale), signer=signer),
            closed_loop(svc, clients=4, per_client=int(75 * scale), signer=signer),
        ]
        out["burst"] = burst(svc, clients=4, count=min(fleet - 1, int(800 * scale)), signer=signer)
        secs = 2.0 if quick else 3.0
        out["get"] = [
            get_rate(svc, what="job", clients=1, seconds=secs, target=warm, signer=signer),
            get_rate(svc, what="job", clients=4, seconds=secs, target=warm, signer=signer),
            get_rate(svc, what="server", clients=4, seconds=secs,
                     target=svc.tenant.server_ids[0], signer=signer),
            get_rate(svc, what="list50", clients=4, seconds=secs, target="", signer=signer),
        ]
        out["rss_mb_end"] = round(svc.rss(), 1)
        out["rss_mb_peak"] = round(svc.peak_rss(), 1)
    out["load_after"] = loadavg()
    return out


def serve_with_seed(fleet: int) -> dict[str, Any]:
    """Start-up time and memory when the fleet is loaded by ``ecslite serve --seed FILE``."""
    with EcsliteService(fleet, seed_at_start=True) as svc:
        return {"startup_s": round(svc.startup_s, 2), "rss_mb": round(svc.rss(), 1)}


def render(runs: list[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        for cl in r["closed_loop"]:
            e = cl["post_to_success"]
            rows.append([
                r["fleet"], f"closed loop, {cl['clients']} client(s)", cl["reinstalls"],
                e["p50_ms"], e["p95_ms"], e["p99_ms"], cl["post_accept"]["p50_ms"],
                cl["completed_per_s"], cl["service_cpu_ms_per_reinstall_incl_polls"],
            ])
        b = r["burst"]
        rows.append([
            r["fleet"], f"burst, {b['clients']} clients (no polling)", b["reinstalls"],
            float("nan"), float("nan"), float("nan"), b["post_accept"]["p50_ms"],
            f"{b['completed_per_s']} done ({b['accepted_per_s']} accepted)",
            b["service_cpu_ms_per_reinstall"],
        ])
    text = table(
        "Reinstall (sim, zero delay, SQLite): POST → job SUCCESS",
        ["fleet", "mode", "n", "p50 ms", "p95 ms", "p99 ms", "POST p50 ms", "reinstalls/s",
         "svc CPU ms/reinstall"],
        rows,
    )
    grows = []
    for r in runs:
        for g in r["get"]:
            lat = g["latency"]
            grows.append([r["fleet"], g["what"], g["clients"], g["req_per_s"], lat["p50_ms"],
                          lat["p99_ms"], g["service_cpu_ms_per_req"]])
    text += "\n" + table(
        "GET rates", ["fleet", "GET", "clients", "req/s", "p50 ms", "p99 ms", "svc CPU ms/req"],
        grows,
    )
    srows = [[r["fleet"], r["seed_s"], r["startup_s"], r["rss_mb_idle"], r["rss_mb_end"],
              r["rss_mb_peak"], r.get("serve_with_seed", {}).get("rss_mb", float("nan"))]
             for r in runs]
    text += "\n" + table(
        "Service process",
        ["fleet", "`ecslite seed` s", "start-up s", "RSS idle MB", "RSS end MB", "RSS peak MB",
         "RSS after `serve --seed` MB"], srows,
    )
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fleet", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    runs = [run_fleet(f, quick=args.quick) for f in args.fleet]
    print(render(runs))
    path = write_result("control_plane", {"machine": machine(), "runs": runs})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
