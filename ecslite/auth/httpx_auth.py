"""Sign httpx requests the way the official SDK does (AK/SK), or send a token.

Used by the ``ecslite`` CLI client and usable with any ``httpx.Client`` (including Starlette's
``TestClient``)::

    client = httpx.Client(base_url=endpoint, auth=SdkHmacAuth(ak, sk, project_id))
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import UTC, datetime

import httpx

from ecslite.auth import signature as sig


class SdkHmacAuth(httpx.Auth):
    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        project_id: str | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ak = access_key
        self._sk = secret_key
        self._project_id = project_id
        self._now = now

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._project_id:
            request.headers["X-Project-Id"] = self._project_id
        request.headers["X-Sdk-Date"] = sig.format_date(self._now())
        signed = {
            name: request.headers[name]
            for name in ("host", "content-type", "x-project-id", "x-sdk-date", "x-client-token")
            if name in request.headers
        }
        request.headers["Authorization"] = sig.authorization_header(
            access_key=self._ak,
            secret_key=self._sk,
            method=request.method,
            raw_path=request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
            query_string=request.url.query.decode("ascii"),
            headers=signed,
            body=request.content,
        )
        yield request


class TokenAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token
        yield request
