"""A real process's log cannot be forged or made to leak: caller text with newlines, spaces,
``=`` or NUL stays inside one quoted field of one line, a login's user field is never written
in clear (it may be a mistyped password), and a malformed X-Request-Id is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import Service, poll

pytestmark = pytest.mark.process

FORGED = "ts=2020-01-01T00:00:00.000Z level=INFO logger=ecslite.auth token issued user_id=FORGED"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    s = Service(tmp_path_factory.mktemp("logs") / "data").start()
    try:
        yield s
    finally:
        s.stop()


def _lines(svc: Service) -> list[str]:
    return svc.log_path.read_bytes().decode("utf-8", "replace").splitlines()


def _login(svc: Service, name: str) -> httpx.Response:
    d = svc.demo
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": name, "password": "x", "domain": {"name": d["domain_name"]}}
                },
            },
            "scope": {"project": {"name": d["project_name"]}},
        }
    }
    return httpx.post(f"{svc.endpoint}/v3/auth/tokens", json=body, timeout=10)


def test_a_user_name_with_a_newline_forges_no_line(svc: Service) -> None:
    assert _login(svc, "demo-user\n" + FORGED).status_code == 401
    assert _login(svc, "demo-user\r\n" + FORGED).status_code == 401
    lines = _lines(svc)
    assert not [line for line in lines if line.startswith("ts=2020-")]
    assert "FORGED" not in "\n".join(lines)
    refused = [line for line in lines if "token refused" in line]
    assert len(refused) == 2 and all("user_ref=" in line for line in refused)


def test_a_password_typed_as_the_user_name_is_not_logged(svc: Service) -> None:
    secret = "Tr0ub4dor&3-correct-horse"
    assert _login(svc, secret).status_code == 401
    assert _login(svc, secret).status_code == 401
    text = "\n".join(_lines(svc))
    assert secret not in text and "Tr0ub4dor" not in text
    # The same user field gives the same reference, so repeated attempts can be correlated.
    refs = [
        line.split("user_ref=")[1].split()[0] for line in _lines(svc) if "token refused" in line
    ]
    assert refs[-1] == refs[-2]


def test_request_ids_with_spaces_are_replaced(svc: Service) -> None:
    forged = "abc status=200 forged_field=yes"
    resp = httpx.get(f"{svc.endpoint}/v1/x/jobs/y", headers={"X-Request-Id": forged}, timeout=10)
    assert resp.status_code == 401
    assert resp.headers["X-Request-Id"] != forged
    ok = httpx.get(f"{svc.endpoint}/v1/x/jobs/y", headers={"X-Request-Id": "req-42.a"})
    assert ok.headers["X-Request-Id"] == "req-42.a"
    # The access line is written once the response has gone out: wait for it. The forged
    # request's lines were written before it, so all of them are in the file by then.
    lines = poll(
        lambda: _lines(svc),
        until=lambda ls: any("request_id=req-42.a" in line for line in ls),
        timeout=10,
    )
    assert "forged_field" not in "\n".join(lines)


def test_paths_with_newlines_and_nul_stay_one_escaped_field(svc: Service) -> None:
    path = "/v1/p%0A" + FORGED.replace(" ", "%20") + "%00/jobs/" + "z" * 2000
    resp = httpx.get(f"{svc.endpoint}{path}", timeout=10)
    assert resp.status_code in (400, 401)
    # The access line comes once the response has gone out: wait for it.
    lines = poll(
        lambda: _lines(svc),
        until=lambda ls: any("path=" in line and "\\x0a" in line for line in ls),
        timeout=10,
    )
    assert b"\x00" not in svc.log_path.read_bytes()
    assert not [line for line in lines if line.startswith("ts=2020-")]
    logged = [line for line in lines if "path=" in line and "\\x0a" in line]
    # The value is quoted, escaped and cut: the line stays short whatever the path's length.
    assert all(len(line) < 600 for line in logged)
    assert "\\x00" in logged[-1] and "...(+" in logged[-1]
