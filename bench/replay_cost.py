"""Cost of replay refusal per signed mutating request: ``Authenticator.authenticate`` timed
in-process on N distinct signed POSTs with the refusal on (one ``INSERT ... ON CONFLICT DO
NOTHING`` and the expiry delete per request) and off, alternating in rounds.

    .venv/bin/python -m bench.replay_cost [--n 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ecslite.auth import signature as sig
from ecslite.auth.authenticator import Authenticator, IncomingRequest
from ecslite.bootstrap import build
from ecslite.config import Settings
from ecslite.demo import ensure_demo
from ecslite.store.secretbox import SecretBox
from ecslite.store.seeding import apply_seed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ecslite-replay-")) / "data"
    settings = Settings(data_dir=data, database_url=args.database_url)
    c = build(settings, upgrade_schema=True)
    box = SecretBox.from_file(data / "master.key")
    demo, doc = ensure_demo(data, "http://127.0.0.1:8080")
    apply_seed(doc, uow_factory=c.uow_factory, box=box, clock=c.clock)
    auths = {
        on: Authenticator(uow_factory=c.uow_factory, box=box, clock=c.clock, refuse_replays=on)
        for on in (False, True)
    }
    path = f"/v1/{demo['project_id']}/cloudservers/action"
    date = sig.format_date(datetime.now(UTC))
    counter = 0

    def request() -> IncomingRequest:
        nonlocal counter
        counter += 1
        body = f'{{"os-stop": {{"servers": [{{"id": "{counter}"}}]}}}}'.encode()
        headers = {"host": "127.0.0.1:8080", "content-type": "application/json",
                   "x-project-id": demo["project_id"], "x-sdk-date": date}
        auth = sig.authorization_header(
            access_key=demo["access_key"], secret_key=demo["secret_key"], method="POST",
            raw_path=path, query_string="", headers=headers, body=body,
        )
        return IncomingRequest("POST", path, "", [*headers.items(), ("authorization", auth)], body)

    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(10):  # rounds, alternating
        for on in (False, True):
            reqs = [request() for _ in range(args.n // 10)]
            start = time.perf_counter()
            for r in reqs:
                auths[on].authenticate(r)
            times[on].append((time.perf_counter() - start) / len(reqs) * 1e6)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{store}, {args.n} signed POSTs each way, median of 10 rounds "
          f"(load {' '.join(f'{x:.1f}' for x in os.getloadavg())}):")
    print(f"  replay refusal off: {off:.0f} us/request; on: {on:.0f} us/request; "
          f"cost {on - off:.0f} us/request")
    c.close()


if __name__ == "__main__":
    main()
