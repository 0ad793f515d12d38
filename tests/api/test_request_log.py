"""Every response carries its request id once (the caller's X-Request-Id, or a fresh one), and
every request, refusals included, is logged once with it."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import Api


def test_request_id_is_echoed_once_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ecslite.access")
    ok = api.client.get(
        f"/v1/{api.project}/cloudservers/{api.demo['servers']['running']}",
        headers={"X-Request-Id": "req-ok-1"},
    )
    assert ok.status_code == 200
    assert ok.headers.get_list("x-request-id") == ["req-ok-1"]
    refused = api.client.get(
        f"/v1/{api.project}/jobs/none", headers={"X-Request-Id": "req-no-auth"}, auth=_NoAuth()
    )
    assert refused.status_code == 401
    assert refused.headers.get_list("x-request-id") == ["req-no-auth"]
    fresh = api.client.get(f"/v1/{api.project}/jobs/none")
    (generated,) = fresh.headers.get_list("x-request-id")
    assert len(generated) == 32
    lines = [r.getMessage() for r in caplog.records if r.name == "ecslite.access"]
    assert sum("request_id=req-ok-1" in m and "status=200" in m for m in lines) == 1
    assert sum("request_id=req-no-auth" in m and "status=401" in m for m in lines) == 1


class _NoAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        yield request
