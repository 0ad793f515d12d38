"""Accept a job: the one path every job type takes from a checked request to a stored job.

In one transaction: an earlier request with the same ``X-Client-Token`` returns its job; the
job type's ``plan`` checks its rules and names the servers (and volumes) it claims; each server
is claimed by compare-and-swap (idle, at the version the plan read), each volume likewise
(detached, in a status the plan accepts), the job and its sub-jobs inserted and the token
remembered. Either all of that commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.clock import Clock, new_job_id
from ecslite.domain.job import Job
from ecslite.domain.server import Server
from ecslite.domain.transitions import ServerChange
from ecslite.jobs.registry import DEFINITIONS
from ecslite.services.idempotency import ClientToken, accept_once, remember, replay
from ecslite.services.placement import check_hosts_up, split_by_host
from ecslite.store.uow import UnitOfWork, UowFactory


@dataclass(frozen=True)
class Claim:
    """Put ``server`` (as the plan read it) under the job with ``change``."""

    server: Server
    change: ServerChange


@dataclass(frozen=True)
class VolumeClaim:
    """Move detached volume ``volume_id`` from one of ``expected`` to ``status``, or refuse."""

    volume_id: str
    expected: frozenset[str]
    status: str
    refusal: errors.ErrorSpec


@dataclass(frozen=True)
class JobPlan:
    job: Job
    claims: tuple[Claim, ...]
    volume_claims: tuple[VolumeClaim, ...] = ()


# plan(uow, new job id) -> the job and its claims; raises EcsError to refuse the request.
Plan = Callable[[UnitOfWork, str], JobPlan]


def accept_job(
    *,
    project_id: str,
    client_token: ClientToken | None,
    uow_factory: UowFactory,
    clock: Clock,
    plan: Plan,
) -> str:
    """Return the id of the job ``plan`` describes, or of the one this token already made."""

    def attempt() -> str:
        job_id = new_job_id()
        with uow_factory() as uow:
            earlier = replay(uow, project_id, client_token)
            if earlier is not None:
                return earlier
            p = plan(uow, job_id)
            for claim in p.claims:
                ok = uow.servers.apply(
                    claim.server.id,
                    claim.change,
                    updated=clock.iso(millis=False),
                    idle_at_version=claim.server.version,
                )
                if not ok:
                    raise errors.EcsError(
                        errors.BAD_SERVER_STATE,
                        f"Another operation started on server {claim.server.id} at the same time.",
                    )
            for vc in p.volume_claims:
                ok = uow.volumes.claim_detached(
                    vc.volume_id,
                    project_id=project_id,
                    expected=sorted(vc.expected),
                    status=vc.status,
                )
                if not ok:
                    raise errors.EcsError(
                        vc.refusal,
                        f"Another operation started on volume {vc.volume_id} at the same time.",
                    )
            # Every job runs on the host that holds what it touches (a down host takes none).
            check_hosts_up(
                uow,
                now=clock.now(),
                host_ids=set(uow.servers.hosts_of([c.server.id for c in p.claims]).values()),
            )
            for job in split_by_host(uow, p.job, DEFINITIONS[p.job.job_type].part_params):
                uow.jobs.add(job)
            remember(uow, project_id, client_token, job_id, clock.now())
            uow.commit()
        return job_id

    return accept_once(uow_factory, project_id, client_token, attempt)
