"""Reinstall the demo tenant's servers with the official Huawei Cloud SDK, unchanged.

    python examples/sdk_reinstall.py ecslite-data/demo.json

Reinstalls ``servers.stopped`` with the demo key pair, then ``servers.running`` with a password,
polling each job until it ends and exiting non-zero if one fails. Both pass
``mode: withStopServer``: a server must be stopped for a reinstall, and the README's quickstart
has already reinstalled (and so started) ``servers.stopped`` with the CLI by the time this runs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkecs.v2 import (
    EcsClient,
    ReinstallServerWithCloudInitOption,
    ReinstallServerWithCloudInitRequest,
    ReinstallServerWithCloudInitRequestBody,
    ShowJobRequest,
    ShowServerRequest,
)


def client_for(demo: dict[str, Any]) -> EcsClient:
    creds = BasicCredentials(demo["access_key"], demo["secret_key"], demo["project_id"])
    return (
        EcsClient.new_builder().with_credentials(creds).with_endpoints([demo["endpoint"]]).build()
    )


def wait_for_job(client: EcsClient, job_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.show_job(ShowJobRequest(job_id=job_id))
        if job.status in ("SUCCESS", "FAIL"):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout}s")
        time.sleep(0.2)


def reinstall(client: EcsClient, server_id: str, option: ReinstallServerWithCloudInitOption) -> Any:
    body = ReinstallServerWithCloudInitRequestBody(os_reinstall=option)
    resp = client.reinstall_server_with_cloud_init(
        ReinstallServerWithCloudInitRequest(server_id=server_id, body=body)
    )
    return wait_for_job(client, resp.job_id)


def main(path: str) -> int:
    demo = json.loads(Path(path).read_text())
    client = client_for(demo)
    stopped, running = demo["servers"]["stopped"], demo["servers"]["running"]
    job = reinstall(
        client,
        stopped,
        ReinstallServerWithCloudInitOption(
            keyname=demo["keypair"]["name"], userid=demo["user_id"], mode="withStopServer"
        ),
    )
    print(f"{stopped}: job {job.job_id} {job.status}")
    if job.status != "SUCCESS":
        return 1
    job = reinstall(
        client,
        running,
        ReinstallServerWithCloudInitOption(adminpass="!QAZxsw2", mode="withStopServer"),
    )
    print(f"{running}: job {job.job_id} {job.status}")
    if job.status != "SUCCESS":
        return 1
    server = client.show_server(ShowServerRequest(server_id=running)).server
    print(
        f"{server.name}: {server.status}, system disk {server.os_extended_volumesvolumes_attached[0].id}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ecslite-data/demo.json"))
