"""Fixtures for the authentication suite: a real ``ecslite serve --demo`` process, official SDK
clients for it, SDK-signed raw requests, and an in-process app for route enumeration.

Self-contained on purpose (the lead may move ``Service`` into a shared conftest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkecs.v2 import EcsClient

from tests.support import TERMINAL, Service, free_port, poll  # noqa: F401 - re-exported to the suite


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("auth") / "data").start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def demo(service: Service) -> dict[str, Any]:
    return service.demo


def sdk_client(endpoint: str, ak: str, sk: str, project_id: str) -> EcsClient:
    return (
        EcsClient.new_builder()
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoints([endpoint])
        .with_http_config(HttpConfig(timeout=(5, 30)))
        .build()
    )


@pytest.fixture(scope="module")
def ecs(service: Service, demo: dict[str, Any]) -> EcsClient:
    """The official SDK client of the demo tenant (AK/SK)."""
    return sdk_client(service.endpoint, demo["access_key"], demo["secret_key"], demo["project_id"])


def password_login(demo: dict[str, Any], **override: Any) -> dict[str, Any]:
    """A Keystone v3 password request body for the demo user, project scoped by name."""
    user = {
        "name": demo["user_name"],
        "password": demo["password"],
        "domain": {"name": demo["domain_name"]},
    }
    user.update(override.pop("user", {}))
    scope = override.pop("scope", {"project": {"name": demo["project_name"]}})
    return {
        "auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
    }


@pytest.fixture(scope="module")
def token(service: Service, demo: dict[str, Any]) -> str:
    resp = httpx.post(f"{service.endpoint}/v3/auth/tokens", json=password_login(demo))
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


@dataclass
class Signed:
    """A request signed by the official SDK's own signer, ready to be (tampered with and) sent."""

    method: str
    path: str
    query: list[tuple[str, Any]]
    headers: dict[str, str]
    body: bytes

    def send(self, endpoint: str, **changes: Any) -> httpx.Response:
        method = changes.get("method", self.method)
        path = changes.get("path", self.path)
        headers = {**self.headers, **changes.get("headers", {})}
        for name in changes.get("drop_headers", ()):
            headers.pop(name, None)
        body = changes.get("body", self.body)
        qs = Signer.process_canonical_query_string(
            SdkRequest(query_params=changes.get("query", self.query))
        )
        url = f"{endpoint}{path}" + (f"?{qs}" if qs else "")
        return httpx.request(method, url, headers=headers, content=body, timeout=30)


def sdk_sign(
    endpoint: str,
    *,
    ak: str,
    sk: str,
    project_id: str | None,
    method: str,
    path: str,
    query: list[tuple[str, Any]] | None = None,
    body: Any = None,
    sdk_date: datetime | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Signed:
    """Sign like ``BasicCredentials.sign_request`` does: X-Project-Id, then the SDK Signer."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {
        "Content-Type": "application/json;charset=utf-8" if raw else "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0 ecslite-tests",
    }
    if project_id:
        headers["X-Project-Id"] = project_id
    if sdk_date is not None:
        headers["X-Sdk-Date"] = sdk_date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers.update(extra_headers or {})
    req = SdkRequest(
        method=method,
        schema="http",
        host=endpoint.split("://", 1)[1],
        resource_path=path,
        query_params=list(query or []),
        header_params=headers,
        body=raw,
    )
    Signer(BasicCredentials(ak, sk, project_id)).sign(req)
    return Signed(method, path, list(query or []), dict(req.header_params), raw)


def wait_job(ecs: EcsClient, job_id: str, timeout: float = 30) -> Any:
    from huaweicloudsdkecs.v2.model import ShowJobRequest

    return poll(
        lambda: ecs.show_job(ShowJobRequest(job_id=job_id)),
        until=lambda j: j.status in TERMINAL,
        timeout=timeout,
    )


def error_of(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return dict(body["error"])
