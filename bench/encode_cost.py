"""CPU of writing one response body: FastAPI's default path against orjson (api/json_body.py).

A route returning a dict goes through ``jsonable_encoder`` (a recursive copy) and
``JSONResponse`` (``json.dumps``); ``JsonBody`` writes the same bytes with orjson. Measured on
the bodies GET job answers for a stop (one sub-job) and a reinstall (seven), built by the API's
own view; the bytes are checked to be identical first. CPU time (not wall), so the load matters less.

    .venv/bin/python -m bench.encode_cost
"""

from __future__ import annotations

import time
import timeit

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from bench.common import loadavg, write_result
from ecslite.api.json_body import JsonBody
from ecslite.api.views import job_view
from ecslite.domain.job import Job, JobStatus, JobType, SubJob


def _job(steps: int) -> Job:
    return Job(
        id="c" * 32, project_id="p" * 32, job_type=JobType.REINSTALL, status=JobStatus.SUCCESS,
        server_id="a" * 36, params={}, created="2026-12-06T20:00:00Z",
        begin_time="2026-12-06T20:00:00Z", end_time="2026-12-06T20:00:01Z",
        sub_jobs=tuple(
            SubJob(id=f"{i:032d}", job_id="c" * 32, seq=i, job_type=f"step{i}",
                   server_id="a" * 36, status=JobStatus.SUCCESS,
                   begin_time="2026-12-06T20:00:00Z", end_time="2026-12-06T20:00:01Z")
            for i in range(steps)
        ),
    )


def run(n: int = 3000) -> dict[str, object]:
    out: dict[str, object] = {"loadavg": loadavg()}
    for steps in (1, 7):
        body = job_view(_job(steps))
        assert JSONResponse(jsonable_encoder(body)).body == JsonBody(body).body
        default = min(timeit.repeat(
            lambda b=body: JSONResponse(jsonable_encoder(b)), number=n, repeat=5, timer=time.process_time)) / n
        fast = min(timeit.repeat(lambda b=body: JsonBody(b), number=n, repeat=5, timer=time.process_time)) / n
        out[f"job_{steps}_steps_us"] = {"jsonable_encoder+JSONResponse": round(default * 1e6, 1),
                                        "JsonBody": round(fast * 1e6, 1)}
    return out


def main() -> int:
    r = run()
    for k, v in r.items():
        print(f"{k}: {v}")
    write_result("encode_cost", r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
