"""A plain-HTTP client for the ECS calls the benchmarks make, with a pluggable request signer.

A signer takes (method, url, headers, body) and returns the headers to send. ``sdk_hmac`` signs
with AK/SK exactly as the official SDK does (``X-Sdk-Date``, ``X-Project-Id`` and
``Authorization: SDK-HMAC-SHA256 ...``), using ecslite's own signature module; ``unsigned``
sends the request as is (the service answers 401 to that, so it is only for endpoints without
authentication).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ecslite.auth import signature as sig

Signer = Callable[[str, str, Mapping[str, str], bytes], dict[str, str]]


def unsigned(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    return dict(headers)


def sdk_hmac(access_key: str, secret_key: str, project_id: str) -> Signer:
    """Return a signer that adds the SDK's AK/SK signature headers."""

    def sign(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        parts = urlsplit(url)
        out = {k.lower(): v for k, v in headers.items()}
        out["host"] = parts.netloc
        out["x-project-id"] = project_id
        out["x-sdk-date"] = sig.format_date(datetime.now(UTC))
        out["authorization"] = sig.authorization_header(
            access_key=access_key,
            secret_key=secret_key,
            method=method,
            raw_path=parts.path,
            query_string=parts.query,
            headers=dict(out),
            body=body,
        )
        return out

    return sign


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class EcsHttp:
    """One keep-alive connection's worth of ECS calls; one per client thread."""

    def __init__(self, base: str, project_id: str, *, signer: Signer = unsigned) -> None:
        self.base = base
        self.project_id = project_id
        self.signer = signer
        self.http = httpx.Client(timeout=60)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        url = self.base + path
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json;charset=utf-8"
            if payload is not None
            else "application/json"
        }
        headers = self.signer(method, url, headers, body)
        r = self.http.request(method, url, content=body or None, headers=headers)
        if r.status_code >= 300:
            raise ApiError(r.status_code, r.text)
        return r.json() if r.content else None

    # -- the calls -------------------------------------------------------------------------

    def reinstall(self, server_id: str, *, keyname: str, userid: str) -> str:
        body = {"os-reinstall": {"keyname": keyname, "userid": userid, "mode": "withStopServer"}}
        path = f"/v2/{self.project_id}/cloudservers/{server_id}/reinstallos"
        job_id: str = self.call("POST", path, body)["job_id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/v1/{self.project_id}/jobs/{job_id}")
        return result

    def server(self, server_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "GET", f"/v1/{self.project_id}/cloudservers/{server_id}"
        )
        return result

    def list_servers(self, *, limit: int) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "GET", f"/v1/{self.project_id}/cloudservers/detail?limit={limit}"
        )
        return result

    def power(self, server_id: str, *, stop: bool) -> str:
        key = "os-stop" if stop else "os-start"
        body: dict[str, Any] = {key: {"servers": [{"id": server_id}]}}
        if stop:
            body[key]["type"] = "HARD"
        job_id: str = self.call("POST", f"/v1/{self.project_id}/cloudservers/action", body)[
            "job_id"
        ]
        return job_id

    def wait_job(
        self, job_id: str, *, poll_s: float, timeout: float = 120.0, gets: list[float] | None = None
    ) -> dict[str, Any]:
        """Poll the job until it is SUCCESS or FAIL; record each GET's latency in ``gets``."""
        deadline = time.monotonic() + timeout
        while True:
            t0 = time.perf_counter()
            job = self.job(job_id)
            if gets is not None:
                gets.append(time.perf_counter() - t0)
            if job["status"] in ("SUCCESS", "FAIL"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")
            if poll_s > 0:
                time.sleep(poll_s)
