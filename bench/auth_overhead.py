"""Cost of authentication per request, in-process on SQLite: AK/SK verification (DB read, Fernet
decrypt, HMAC), token lookup, and a password login (argon2 + token insert).

    .venv/bin/python bench/auth_overhead.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ecslite.auth import signature as sig
from ecslite.auth.authenticator import Authenticator, IncomingRequest
from ecslite.auth.keystone import PasswordLogin, issue_token
from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.demo import ensure_demo
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import apply_seed


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    data = Path(tempfile.mkdtemp()) / "data"
    c = build(Settings(data_dir=data))
    box = SecretBox.from_file(data / "master.key")
    demo, doc = ensure_demo(data, "http://127.0.0.1:8080")
    apply_seed(doc, uow_factory=c.uow_factory, box=box, clock=c.clock)
    auth = Authenticator(uow_factory=c.uow_factory, box=box, clock=c.clock)
    path = f"/v1/{demo['project_id']}/cloudservers/detail"
    headers = {"host": "127.0.0.1:8080", "x-sdk-date": sig.format_date(datetime.now(UTC)),
               "x-project-id": demo["project_id"], "content-type": "application/json"}
    authorization = sig.authorization_header(
        access_key=demo["access_key"], secret_key=demo["secret_key"], method="GET",
        raw_path=path, query_string="limit=10", headers=headers, body=b"")
    signed = IncomingRequest("GET", path, "limit=10",
                             [*headers.items(), ("authorization", authorization)], b"")
    login = PasswordLogin(password=demo["password"], user_id=demo["user_id"],
                          project_id=demo["project_id"])

    def new_token() -> str:
        return issue_token(login, uow_factory=c.uow_factory, clock=c.clock, ttl_seconds=3600).token

    with_token = IncomingRequest("GET", path, "", [("x-auth-token", new_token())], b"")
    print("| operation | time per call |\n|---|---|")
    print(f"| AK/SK verification | {per_call(lambda: auth.authenticate(signed), 2000) * 1e6:.0f} us |")
    print(f"| token verification | {per_call(lambda: auth.authenticate(with_token), 2000) * 1e6:.0f} us |")
    print(f"| password login (POST /v3/auth/tokens work) | {per_call(new_token, 20) * 1e3:.0f} ms |")
    c.close()


if __name__ == "__main__":
    main()
