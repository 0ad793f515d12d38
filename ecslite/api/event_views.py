"""The bodies the event stream carries: what GET job and GET server answer at that moment.

Used by the store's event recorder (wired in bootstrap) inside the transaction that changed
the job or server, so each event is the API's answer right after that change.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ecslite.api.views import job_view, server_detail
from ecslite.drivers.base import GuestNetwork
from ecslite.services.server_query import contexts
from ecslite.store.events import Rendered
from ecslite.store.uow import UnitOfWork


def _dumps(body: object) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def render_job(uow: UnitOfWork, job_id: str) -> Rendered | None:
    """The body of ``GET /v1/{project_id}/jobs/{job_id}``."""
    job = uow.jobs.get(job_id)
    if job is None:
        return None
    server_id = job.server_id
    if server_id is None:
        # A batch on one server is that server's job; a batch on several names none.
        ids = {s.server_id for s in job.sub_jobs}
        server_id = ids.pop() if len(ids) == 1 else None
    return Rendered(job.project_id, server_id, _dumps(job_view(job)))


def render_server(
    uow: UnitOfWork,
    server_id: str,
    *,
    network_of: Callable[[str], GuestNetwork | None] | None = None,
) -> Rendered | None:
    """The body of ``GET /v1/{project_id}/cloudservers/{server_id}``: ``{"server": ...}``.

    ``network_of`` is the driver's ``guest_network`` (where its guests are reached).
    """
    server = uow.servers.get(server_id)
    if server is None:
        return None
    _, ctx = contexts(uow, [server], network_of)[0]
    body = {"server": server_detail(server, ctx)}
    return Rendered(server.project_id, server.id, _dumps(body))
