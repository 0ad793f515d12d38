"""Bursts against a real process: with default limits a burst of 1,000 signed ShowServer
requests (100 at a time) completes without a 5xx; with small limits the excess is answered
429 with Retry-After in the route's envelope instead of queueing, and the service recovers.
(Latency figures: bench/hardening.py.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service

pytestmark = pytest.mark.process


def _client(svc: Service) -> httpx.AsyncClient:
    d = svc.demo
    return httpx.AsyncClient(
        base_url=svc.endpoint,
        auth=SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"]),
        timeout=120,
        limits=httpx.Limits(max_connections=100),
    )


async def _burst(
    svc: Service, n: int, concurrency: int, method: str, path: str, body: object = None
) -> list[httpx.Response]:
    sem = asyncio.Semaphore(concurrency)
    async with _client(svc) as http:

        async def one(i: int) -> httpx.Response:
            async with sem:
                payload = body(i) if callable(body) else body
                return await http.request(method, path, json=payload)

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def _show(svc: Service) -> str:
    return f"/v1/{svc.demo['project_id']}/cloudservers/{svc.demo['servers']['running']}"


def test_a_burst_with_default_limits_has_no_5xx(tmp_path_factory: pytest.TempPathFactory) -> None:
    svc = Service(tmp_path_factory.mktemp("burst") / "data").start()
    try:
        answers = asyncio.run(_burst(svc, 1000, 100, "GET", _show(svc)))
    finally:
        svc.stop()
    statuses = Counter(r.status_code for r in answers)
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > 0 and set(statuses) <= {200, 429}, statuses


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {
        "ECSLITE_MAX_IN_FLIGHT": "2",
        "ECSLITE_MAX_QUEUED": "2",
        "ECSLITE_KEYGEN_WORKERS": "1",
        "ECSLITE_KEYGEN_QUEUE": "0",
    }
    s = Service(tmp_path_factory.mktemp("small") / "data", env=env).start()
    try:
        yield s
    finally:
        s.stop()


def test_beyond_the_queue_requests_get_429_with_retry_after(small: Service) -> None:
    answers = asyncio.run(_burst(small, 200, 50, "GET", _show(small)))
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) == {200, 429}, statuses
    for r in answers:
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "1"
            assert r.json()["error"]["code"] == "APIGW.0308"
    # The gate lets go of every slot: the service serves normally afterwards.
    follow_up = asyncio.run(_burst(small, 4, 1, "GET", _show(small)))
    assert [r.status_code for r in follow_up] == [200] * 4


def test_rsa_key_generation_is_bounded(small: Service) -> None:
    path = f"/v2.1/{small.demo['project_id']}/os-keypairs"
    answers = asyncio.run(
        _burst(small, 30, 4, "POST", path, body=lambda i: {"keypair": {"name": f"gen-{i}"}})
    )
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {200, 429} and statuses[429] > 0, statuses
    reasons = []
    for r in answers:
        if r.status_code == 429:
            fault = r.json()["overLimit"]
            assert fault["code"] == 429 and r.headers["Retry-After"] == "1"
            reasons.append(fault["message"])
    # At least one was refused by the key generation pool itself, not the request queue.
    assert any("key pairs are being generated" in m for m in reasons), reasons
    assert "Traceback" not in small.log()
