"""ecslite next to moto's server mode, same machine, same fleet size, same concurrency.

moto has no root-volume replacement, so the nearest comparable calls are compared:
  describe one server   ecslite GET /v1/{p}/cloudservers/{id}  vs  EC2 DescribeInstances(InstanceId.1)
  power cycle           ecslite POST cloudservers/action os-stop/os-start (one server) and the
                        job polled to SUCCESS  vs  EC2 StopInstances / StartInstances (synchronous
                        in moto)
Both sides are driven with the same raw HTTP client (httpx, keep-alive), so the ratio is about
the services. Then each side's official client: huaweicloudsdkecs against ecslite and boto3
against moto, timed against raw httpx calls doing the same request: the client's own overhead.

    .venv/bin/python -m bench.peer [--fleet 1000] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    cpu_seconds,
    free_port,
    loadavg,
    machine,
    rss_mb,
    summarize_ms,
    table,
    wait_port,
    write_result,
)
from bench.control_plane import POLL_S, _client
from bench.ecslite_proc import EcsliteService
from bench.load import run_threads, timed_loop

# moto reads the region and service from the SigV4 credential scope and does not check the
# signature, so a fixed header is enough for raw requests.
_MOTO_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=00"
)


class MotoServer:
    def __init__(self, fleet: int) -> None:
        self.fleet = fleet
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ids: list[str] = []

    def __enter__(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, timeout=60, proc=self.proc)
        ec2 = self.boto3()
        t0 = time.perf_counter()
        while len(self.ids) < self.fleet:
            n = min(100, self.fleet - len(self.ids))
            r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n,
                                  InstanceType="t2.micro")
            self.ids += [i["InstanceId"] for i in r["Instances"]]
        self.create_s = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def boto3(self) -> Any:
        import boto3

        return boto3.client(
            "ec2", endpoint_url=self.base, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)


class MotoHttp:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(timeout=60)

    def call(self, action: str, **params: str) -> str:
        data = {"Action": action, "Version": "2016-11-15", **params}
        r = self.http.post(self.base + "/", data=data, headers={"Authorization": _MOTO_AUTH})
        if r.status_code != 200:
            raise RuntimeError(f"moto {action}: HTTP {r.status_code} {r.text[:300]}")
        return r.text

    def close(self) -> None:
        self.http.close()


def _measure(cpu: Any, clients: int, work: Any) -> tuple[list[Any], float, float]:
    c0 = cpu()
    results, wall = run_threads(clients, work)
    return results, wall, cpu() - c0


def describe(moto: MotoServer, svc: EcsliteService, clients: int, secs: float) -> dict[str, Any]:
    def e_work(i: int) -> list[float]:
        c = _client(svc)
        sid = svc.tenant.server_ids[i]
        try:
            return timed_loop(secs, lambda: c.server(sid))
        finally:
            c.close()

    def m_work(i: int) -> list[float]:
        c = MotoHttp(moto.base)
        iid = moto.ids[i]
        try:
            return timed_loop(secs, lambda: c.call("DescribeInstances", **{"InstanceId.1": iid}))
        finally:
            c.close()

    out = {}
    for name, cpu, work in (("ecslite", svc.cpu, e_work), ("moto", moto.cpu, m_work)):
        res, wall, cpu_s = _measure(cpu, clients, work)
        lat = [x for r in res for x in r]
        out[name] = {"requests": len(lat), "req_per_s": round(len(lat) / wall, 1),
                     "latency": summarize_ms(lat),
                     "service_cpu_ms_per_req": round(cpu_s / len(lat) * 1000, 3)}
    return out


def power(moto: MotoServer, svc: EcsliteService, clients: int, secs: float) -> dict[str, Any]:
    """Each client stops then starts its own servers in turn, for ``secs`` seconds."""

    def e_work(i: int) -> dict[str, list[float]]:
        c = _client(svc)
        mine = svc.tenant.server_ids[i * 100 : (i + 1) * 100]
        posts: list[float] = []
        e2e: list[float] = []
        end = time.perf_counter() + secs
        k = 0
        try:
            while time.perf_counter() < end:
                sid = mine[k % len(mine)]
                for stop in (True, False):
                    t0 = time.perf_counter()
                    job = c.power(sid, stop=stop)
                    posts.append(time.perf_counter() - t0)
                    if c.wait_job(job, poll_s=POLL_S)["status"] != "SUCCESS":
                        raise RuntimeError(f"power job {job} failed")
                    e2e.append(time.perf_counter() - t0)
                k += 1
        finally:
            c.close()
        return {"posts": posts, "e2e": e2e}

    def m_work(i: int) -> dict[str, list[float]]:
        c = MotoHttp(moto.base)
        mine = moto.ids[i * 100 : (i + 1) * 100]
        lat: list[float] = []
        end = time.perf_counter() + secs
        k = 0
        try:
            while time.perf_counter() < end:
                iid = mine[k % len(mine)]
                for action in ("StopInstances", "StartInstances"):
                    t0 = time.perf_counter()
                    c.call(action, **{"InstanceId.1": iid})
                    lat.append(time.perf_counter() - t0)
                k += 1
        finally:
            c.close()
        return {"posts": lat, "e2e": lat}

    out = {}
    for name, cpu, work in (("ecslite", svc.cpu, e_work), ("moto", moto.cpu, m_work)):
        res, wall, cpu_s = _measure(cpu, clients, work)
        posts = [x for r in res for x in r["posts"]]
        e2e = [x for r in res for x in r["e2e"]]
        out[name] = {"actions": len(e2e), "actions_per_s": round(len(e2e) / wall, 1),
                     "request_latency": summarize_ms(posts),
                     "to_completion": summarize_ms(e2e),
                     "service_cpu_ms_per_action": round(cpu_s / len(e2e) * 1000, 3)}
    return out


def _per_call(n: int, fn: Any) -> dict[str, float]:
    fn()  # warm-up (connection, imports)
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall_ms_per_call": round(wall / n * 1000, 3),
            "client_cpu_ms_per_call": round(cpu / n * 1000, 3)}


def client_overhead(moto: MotoServer, svc: EcsliteService, n: int) -> dict[str, Any]:
    """Official clients vs raw httpx doing the same call, one thread, sequential."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkecs.v2 import EcsClient, ShowJobRequest, ShowServerRequest

    t = svc.tenant
    sdk = (EcsClient.new_builder()
           .with_credentials(BasicCredentials(t.access_key, t.secret_key, t.project_id))
           .with_endpoints([svc.base]).build())
    raw = _client(svc)
    job = raw.power(t.server_ids[-1], stop=True)
    raw.wait_job(job, poll_s=POLL_S)
    sid = t.server_ids[-2]
    out: dict[str, Any] = {
        "ecslite show_server": {
            "sdk": _per_call(n, lambda: sdk.show_server(ShowServerRequest(server_id=sid))),
            "httpx": _per_call(n, lambda: raw.server(sid)),
        },
        "ecslite show_job": {
            "sdk": _per_call(n, lambda: sdk.show_job(ShowJobRequest(job_id=job))),
            "httpx": _per_call(n, lambda: raw.job(job)),
        },
    }
    raw.close()
    ec2 = moto.boto3()
    mraw = MotoHttp(moto.base)
    iid = moto.ids[-1]
    out["moto describe_instances"] = {
        "sdk": _per_call(n, lambda: ec2.describe_instances(InstanceIds=[iid])),
        "httpx": _per_call(n, lambda: mraw.call("DescribeInstances", **{"InstanceId.1": iid})),
    }
    mraw.close()
    for v in out.values():
        # Client CPU is the stable measure of the client's own work; wall time also carries
        # the server's share and the machine's noise.
        v["sdk_overhead_client_cpu_ms_per_call"] = round(
            v["sdk"]["client_cpu_ms_per_call"] - v["httpx"]["client_cpu_ms_per_call"], 3)
        v["sdk_overhead_wall_ms_per_call"] = round(
            v["sdk"]["wall_ms_per_call"] - v["httpx"]["wall_ms_per_call"], 3)
    return out


def run(fleet: int = 1000, *, quick: bool = False) -> dict[str, Any]:
    secs = 2.0 if quick else 3.0
    out: dict[str, Any] = {"fleet": fleet, "load_before": loadavg()}
    with MotoServer(fleet) as moto, EcsliteService(fleet) as svc:
        out["moto_create_fleet_s"] = round(moto.create_s, 2)
        out["describe"] = {c: describe(moto, svc, c, secs) for c in (1, 4)}
        out["power"] = {c: power(moto, svc, c, secs) for c in (1, 4)}
        out["client_overhead"] = client_overhead(moto, svc, 150 if quick else 300)
        out["rss_mb"] = {"ecslite": round(svc.rss(), 1), "moto": round(rss_mb(moto.proc.pid), 1)}
    out["load_after"] = loadavg()
    return out


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def render(r: dict[str, Any]) -> str:
    rows = []
    for c, d in r["describe"].items():
        e, m = d["ecslite"], d["moto"]
        rows.append([f"describe one server, {c} client(s)", e["latency"]["p50_ms"],
                     m["latency"]["p50_ms"], e["latency"]["p99_ms"], m["latency"]["p99_ms"],
                     e["req_per_s"], m["req_per_s"], _ratio(e["req_per_s"], m["req_per_s"]),
                     e["service_cpu_ms_per_req"], m["service_cpu_ms_per_req"]])
    for c, d in r["power"].items():
        e, m = d["ecslite"], d["moto"]
        rows.append([f"stop/start request, {c} client(s)", e["request_latency"]["p50_ms"],
                     m["request_latency"]["p50_ms"], e["request_latency"]["p99_ms"],
                     m["request_latency"]["p99_ms"], "-", "-", "-", "-", "-"])
        rows.append([f"stop/start to completion, {c} client(s)", e["to_completion"]["p50_ms"],
                     m["to_completion"]["p50_ms"], e["to_completion"]["p99_ms"],
                     m["to_completion"]["p99_ms"], e["actions_per_s"], m["actions_per_s"],
                     _ratio(e["actions_per_s"], m["actions_per_s"]),
                     e["service_cpu_ms_per_action"], m["service_cpu_ms_per_action"]])
    text = table(
        f"ecslite vs moto server mode (fleet {r['fleet']} each, raw httpx client)",
        ["operation", "ecslite p50 ms", "moto p50 ms", "ecslite p99 ms", "moto p99 ms",
         "ecslite ops/s", "moto ops/s", "ops/s ratio ecslite/moto", "ecslite CPU ms/op",
         "moto CPU ms/op"],
        rows,
    )
    crow = []
    for name, v in r["client_overhead"].items():
        crow.append([name, v["sdk"]["wall_ms_per_call"], v["httpx"]["wall_ms_per_call"],
                     v["sdk"]["client_cpu_ms_per_call"], v["httpx"]["client_cpu_ms_per_call"],
                     v["sdk_overhead_client_cpu_ms_per_call"]])
    text += "\n" + table(
        "Official client overhead (huaweicloudsdkecs for ecslite, boto3 for moto), sequential",
        ["call", "SDK wall ms/call", "httpx wall ms/call", "SDK client CPU ms/call",
         "httpx client CPU ms/call", "SDK overhead (CPU) ms/call"],
        crow,
    )
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fleet", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    r = run(args.fleet, quick=args.quick)
    print(render(r))
    print(f"wrote {write_result('peer', {'machine': machine(), **r})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
