"""A flood of wrong-password logins without credentials, against a real process: password
checks run on a bounded pool, the excess and throttled logins get 429 with Retry-After in
Keystone's envelope, memory stays bounded, and the signed API keeps answering. Failed logins
are throttled per source and per user. (Latency figures: bench/hardening.py.)"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Service

pytestmark = pytest.mark.process

PER_SOURCE = 20
PER_USER = 5


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {
        "ECSLITE_LOGIN_FAILURES_PER_SOURCE": f"{PER_SOURCE}/minute",
        "ECSLITE_LOGIN_FAILURES_PER_USER": f"{PER_USER}/minute",
    }
    s = Service(tmp_path_factory.mktemp("flood") / "data", env=env).start()
    try:
        yield s
    finally:
        s.stop()


def _body(d: dict[str, Any], name: str, password: str) -> dict[str, Any]:
    user = {"name": name, "password": password, "domain": {"name": d["domain_name"]}}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": d["project_name"]}},
        }
    }


def _from(svc: Service, source: str) -> httpx.Client:
    """A client whose connections come from ``source`` (any 127.x.y.z address is loopback)."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=svc.endpoint, transport=transport, timeout=60)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _is_429(resp: httpx.Response) -> bool:
    if resp.status_code != 429:
        return False
    assert int(resp.headers["Retry-After"]) >= 1
    err = resp.json()["error"]
    assert err["code"] == 429 and err["title"] == "Too Many Requests", err
    return True


async def _flood(svc: Service, n: int, concurrency: int) -> list[httpx.Response]:
    d = svc.demo
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=svc.endpoint, timeout=120, limits=limits) as anon:

        async def one() -> httpx.Response:
            async with sem:
                body = _body(d, f"nobody-{uuid.uuid4().hex}", uuid.uuid4().hex)
                return await anon.post("/v3/auth/tokens", json=body)

        return list(await asyncio.gather(*(one() for _ in range(n))))


def test_a_login_flood_is_bounded_and_the_api_keeps_answering(svc: Service) -> None:
    assert svc.proc is not None
    d = svc.demo
    show = f"/v1/{d['project_id']}/cloudservers/{d['servers']['running']}"
    probe: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def keep_asking() -> None:
        with svc.http() as http:
            http.timeout = httpx.Timeout(60)
            while not done.is_set():
                try:
                    probe.append(http.get(show).status_code)
                except httpx.HTTPError as exc:  # recorded, so the assertion below names it
                    probe.append(-1)
                    errors.append(repr(exc))

    prober = threading.Thread(target=keep_asking)
    prober.start()
    try:
        answers = asyncio.run(_flood(svc, 300, 100))
    finally:
        done.set()
        prober.join(60)
    statuses = [r.status_code for r in answers]
    throttled = [r for r in answers if _is_429(r)]
    assert set(statuses) <= {401, 429}, statuses
    # Only the source's allowance (plus the logins already admitted when it ran out) had their
    # password checked; the rest were refused before any argon2 work.
    assert len(throttled) >= 300 - PER_SOURCE - 20, Counter(statuses)
    assert _peak_rss_mib(svc.proc.pid) < 400
    assert probe and set(probe) == {200}, (Counter(probe), errors[:3])
    # Another source is not throttled: the demo user still logs in.
    with _from(svc, "127.0.0.2") as other:
        resp = other.post("/v3/auth/tokens", json=_body(d, d["user_name"], d["password"]))
    assert resp.status_code == 201, resp.text
    assert "Traceback" not in svc.log()


def test_failed_logins_are_throttled_per_user_across_sources(svc: Service) -> None:
    d = svc.demo
    with _from(svc, "127.0.0.3") as guesser:
        for _ in range(PER_USER):
            resp = guesser.post("/v3/auth/tokens", json=_body(d, d["user_name"], "wrong"))
            assert resp.status_code == 401
        assert _is_429(guesser.post("/v3/auth/tokens", json=_body(d, d["user_name"], "wrong")))
    with _from(svc, "127.0.0.4") as owner:
        # Even the right password waits for the window: the guesser cannot go on elsewhere.
        right = _body(d, d["user_name"], d["password"])
        assert _is_429(owner.post("/v3/auth/tokens", json=right))
        # Another user of the same source is not affected.
        other = owner.post("/v3/auth/tokens", json=_body(d, "someone-else", "wrong"))
        assert other.status_code == 401
