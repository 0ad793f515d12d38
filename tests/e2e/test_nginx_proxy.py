"""ecslite behind nginx with the repository's example configuration (examples/proxy/nginx.conf):
signed calls pass (the signature covers Host, which nginx must pass on), event streams arrive
unbuffered, a client's repeated signed create over its own connection is still a replay once it
goes through nginx (each request has an upstream connection of its own), and nginx's own
refusals are in the API's envelope. Skipped where nginx is not installed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ecslite.auth.httpx_auth import SdkHmacAuth
from tests.support import Service, free_port, poll

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
CONF = Path(__file__).resolve().parents[2] / "examples" / "proxy" / "nginx.conf"

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
]

# Behind a proxy every connection comes from the proxy's address (the config's own advice).
BEHIND_PROXY = {
    "ECSLITE_MAX_CONNECTIONS_PER_SOURCE": "10000",
    "ECSLITE_MAX_HEADS_PER_SOURCE": "10000",
    "ECSLITE_MAX_BODY_SENDERS_PER_SOURCE": "10000",
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = Service(tmp_path_factory.mktemp("behind-nginx") / "data", env=BEHIND_PROXY).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def proxy(svc: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert NGINX is not None
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    text = CONF.read_text()
    for marker, replacement in (
        ("127.0.0.1:8080;  # UPSTREAM", f"127.0.0.1:{svc.port};"),
        ("127.0.0.1:8000;  # LISTEN", f"127.0.0.1:{port};"),
    ):
        assert marker in text, marker
        text = text.replace(marker, replacement)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    log = open(prefix / "nginx.log", "wb")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, (prefix / "nginx.log").read_text()
            try:
                httpx.get(f"{endpoint}/v1/none/jobs/none", timeout=1)
            except httpx.HTTPError:
                return False
            return True

        poll(up, until=bool, timeout=30)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _signed(svc: Service, endpoint: str) -> httpx.Client:
    d = svc.demo
    auth = SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"])
    return httpx.Client(base_url=endpoint, auth=auth, timeout=30)


def test_a_signed_call_passes_through_nginx(svc: Service, proxy: str) -> None:
    d = svc.demo
    with _signed(svc, proxy) as http:
        resp = http.get(f"/v1/{d['project_id']}/cloudservers/{d['servers']['running']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["id"] == d["servers"]["running"]


def test_an_event_stream_arrives_through_nginx(svc: Service, proxy: str) -> None:
    d = svc.demo
    with (
        _signed(svc, proxy) as http,
        http.stream("GET", f"/v1/{d['project_id']}/events") as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        # The opening state arrives while the stream stays open: nginx does not buffer it.
        lines = resp.iter_lines()
        first = next(line for line in lines if line.startswith("event:"))
    assert first in ("event: server", "event: job")


def test_a_repeat_through_nginx_is_a_replay(svc: Service, proxy: str) -> None:
    d = svc.demo
    path = f"/v2.1/{d['project_id']}/os-keypairs"
    request = httpx.Client(base_url=proxy).build_request(
        "POST", path, json={"keypair": {"name": f"via-nginx-{uuid.uuid4().hex[:8]}"}}
    )
    auth = SdkHmacAuth(d["access_key"], d["secret_key"], d["project_id"])
    captured = next(auth.auth_flow(request))
    with httpx.Client(timeout=30) as client:  # one client connection to nginx
        assert client.send(captured).status_code == 200
        again = client.send(captured)
    assert again.status_code == 401, again.text


def test_nginx_throttles_a_login_flood_in_the_keystone_envelope(svc: Service, proxy: str) -> None:
    d = svc.demo
    user = {"name": "nobody", "password": "wrong", "domain": {"name": d["domain_name"]}}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}

    async def flood() -> list[httpx.Response]:
        # At once: nginx lets a burst of 10 through, then 5 a second.
        async with httpx.AsyncClient(base_url=proxy, timeout=60) as anon:
            return list(
                await asyncio.gather(*(anon.post("/v3/auth/tokens", json=body) for _ in range(20)))
            )

    answers = asyncio.run(flood())
    throttled = [r for r in answers if r.status_code == 429]
    assert throttled, [r.status_code for r in answers]
    assert throttled[0].json()["error"] == {
        "code": 429,
        "title": "Too Many Requests",
        "message": "Too many logins from this address.",
    }
    assert throttled[0].headers["retry-after"] == "1"


def test_nginx_refuses_a_large_body_in_the_ecs_envelope(svc: Service, proxy: str) -> None:
    d = svc.demo
    with _signed(svc, proxy) as http:
        resp = http.post(f"/v1/{d['project_id']}/cloudservers", content=b"{" + b" " * 70_000)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "Ecs.0005"
