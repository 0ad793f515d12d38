"""A test suite's view: several processes drive the official clients through a server's life.

Teams use the sim driver as the cloud behind their test suites. This scenario measures what
such a suite waits for: ``--procs`` processes (default 4) each run the journey ``--n`` times
(default 50) with the official client, and the total wall time from the first call to the
last answer is reported.

  ecslite, full journey   huaweicloudsdkecs: create (one post-paid server, job waited for),
                          reinstall with cloud-init (waited for), batch stop, batch start,
                          delete (each waited for)
  ecslite, moto's calls   the same without the reinstall, which EC2 has no call for
  moto                    boto3 against moto_server: run_instances, stop_instances,
                          start_instances, terminate_instances (moto answers each in-request)

A job is waited for the way a suite waits: ShowJob every ``--poll`` seconds until it ends.

    .venv/bin/python -m bench.suite [--procs 4] [--n 50] [--poll 0.01]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from typing import Any

from bench.common import loadavg, machine, table, write_result
from bench.ecslite_proc import EcsliteService, _ns
from bench.peer import MotoServer

_VPC, _SUBNET = _ns("vpc", 0), _ns("subnet", 0)


def _ecs_journey(base: str, tenant: dict[str, str], n: int, poll: float, reinstall: bool,
                 start_at: float, out: Any) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkecs.v2 import (
        BatchStartServersOption,
        BatchStartServersRequest,
        BatchStartServersRequestBody,
        BatchStopServersOption,
        BatchStopServersRequest,
        BatchStopServersRequestBody,
        CreatePostPaidServersRequest,
        CreatePostPaidServersRequestBody,
        DeleteServersRequest,
        DeleteServersRequestBody,
        EcsClient,
        PostPaidServer,
        PostPaidServerNic,
        PostPaidServerRootVolume,
        ReinstallServerWithCloudInitOption,
        ReinstallServerWithCloudInitRequest,
        ReinstallServerWithCloudInitRequestBody,
        ServerId,
        ShowJobRequest,
    )

    creds = BasicCredentials(tenant["access_key"], tenant["secret_key"], tenant["project_id"])
    client = EcsClient.new_builder().with_credentials(creds).with_endpoints([base]).build()

    def wait(job_id: str) -> None:
        while True:
            job = client.show_job(ShowJobRequest(job_id=job_id))
            if job.status == "SUCCESS":
                return
            if job.status == "FAIL":
                raise RuntimeError(f"job {job_id} failed: {job.fail_reason}")
            time.sleep(poll)

    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for i in range(n):
        # Distinct names: an identical signed create within one second is refused as a replay.
        server = PostPaidServer(
            name=f"suite-{os.getpid()}-{i}", image_ref=tenant["image_id"], flavor_ref="s6.small.1", vpcid=_VPC,
            nics=[PostPaidServerNic(subnet_id=_SUBNET)],
            root_volume=PostPaidServerRootVolume(volumetype="SSD", size=40),
            key_name=tenant["keyname"],
        )
        created = client.create_post_paid_servers(
            CreatePostPaidServersRequest(body=CreatePostPaidServersRequestBody(server=server)))
        wait(created.job_id)
        sid = created.server_ids[0]
        ids = [ServerId(id=sid)]
        if reinstall:
            option = ReinstallServerWithCloudInitOption(
                keyname=tenant["keyname"], userid=tenant["user_id"], mode="withStopServer")
            wait(client.reinstall_server_with_cloud_init(ReinstallServerWithCloudInitRequest(
                server_id=sid,
                body=ReinstallServerWithCloudInitRequestBody(os_reinstall=option))).job_id)
        wait(client.batch_stop_servers(BatchStopServersRequest(body=BatchStopServersRequestBody(
            os_stop=BatchStopServersOption(servers=ids, type="SOFT")))).job_id)
        wait(client.batch_start_servers(BatchStartServersRequest(
            body=BatchStartServersRequestBody(os_start=BatchStartServersOption(servers=ids))
        )).job_id)
        wait(client.delete_servers(DeleteServersRequest(body=DeleteServersRequestBody(
            servers=ids, delete_volume=True))).job_id)
    out.put(time.perf_counter() - t0)


def _moto_journey(base: str, n: int, start_at: float, out: Any) -> None:
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=base, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for _ in range(n):
        iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                InstanceType="t2.micro")["Instances"][0]["InstanceId"]
        ec2.stop_instances(InstanceIds=[iid])
        ec2.start_instances(InstanceIds=[iid])
        ec2.terminate_instances(InstanceIds=[iid])
    out.put(time.perf_counter() - t0)


def _run_procs(target: Any, args: tuple[Any, ...], procs: int) -> dict[str, float]:
    """Start ``procs`` processes (imports done), release them together; total wall time."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 4.0  # after every process has imported its client
    ps = [ctx.Process(target=target, args=(*args, start_at, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    each = [out.get(timeout=1800) for _ in ps]
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a journey process exited with {p.exitcode}")
    return {"total_wall_s": round(max(each), 2), "slowest_s": round(max(each), 2),
            "fastest_s": round(min(each), 2)}


def run(procs: int = 4, n: int = 50, poll: float = 0.01) -> dict[str, Any]:
    out: dict[str, Any] = {"procs": procs, "journeys_per_proc": n, "poll_s": poll,
                           "load_before": loadavg()}
    svc = EcsliteService(0)
    doc = json.loads(svc.seed_path.read_text())
    t = svc.tenant
    doc["vpcs"] = [{"id": _VPC, "project_id": t.project_id, "name": "suite"}]
    doc["subnets"] = [{"id": _SUBNET, "project_id": t.project_id, "vpc_id": _VPC,
                       "name": "suite"}]
    svc.seed_path.write_text(json.dumps(doc))
    tenant = {"access_key": t.access_key, "secret_key": t.secret_key,
              "project_id": t.project_id, "user_id": t.user_id, "image_id": t.image_id,
              "keyname": t.keyname}
    with svc:
        out["ecslite_full"] = _run_procs(_ecs_journey, (svc.base, tenant, n, poll, True), procs)
        out["ecslite_moto_calls"] = _run_procs(
            _ecs_journey, (svc.base, tenant, n, poll, False), procs)
    with MotoServer(0) as moto:
        out["moto"] = _run_procs(_moto_journey, (moto.base, n), procs)
    out["load_after"] = loadavg()
    return out


def render(r: dict[str, Any]) -> str:
    moto = r["moto"]["total_wall_s"]
    rows = [
        ["ecslite (huaweicloudsdkecs): create, reinstall, stop, start, delete",
         r["ecslite_full"]["total_wall_s"], "-"],
        ["ecslite (huaweicloudsdkecs): create, stop, start, delete",
         r["ecslite_moto_calls"]["total_wall_s"],
         f"{moto / r['ecslite_moto_calls']['total_wall_s']:.2f}x"],
        ["moto_server (boto3): run, stop, start, terminate", moto, "1x"],
    ]
    return table(
        f"Test-suite scenario: {r['procs']} processes x {r['journeys_per_proc']} journeys "
        f"(jobs polled every {r['poll_s'] * 1000:.0f} ms), load {r['load_before']} → "
        f"{r['load_after']}",
        ["journey", "total wall s", "speed vs moto"], rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--poll", type=float, default=0.01)
    args = ap.parse_args(argv)
    r = run(args.procs, args.n, args.poll)
    print(render(r))
    write_result("suite", {"machine": machine(), **r})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
