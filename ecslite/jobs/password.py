"""The password reset job: one sub-job per server, each setting root's password.

A running guest gets it through its guest agent (``guest-set-user-password`` with the crypt
hash); a stopped one has it written into its system disk offline, and it applies at the next
start, as the public cloud's one-click reset does. One server's failure does not stop the
others (a batch reset reports each server's own result).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain import errors, transitions
from ecslite.domain.codec import decoder
from ecslite.domain.job import JobType
from ecslite.domain.server import TaskState, VmState
from ecslite.drivers.base import GuestCredentials
from ecslite.jobs.steps import FailurePolicy, JobDefinition, Step, StepContext, StepFailed
from ecslite.store.uow import UnitOfWork

RESET = "resetPassword"


@dataclass(frozen=True)
class PasswordParams:
    """The new password as its SHA-512 crypt hash (the plaintext never reaches a job)."""

    password_hash: str
    user: str = "root"


def _reset(ctx: StepContext[PasswordParams]) -> None:
    server = ctx.server
    assert server is not None
    creds = GuestCredentials(user=ctx.params.user, password_hash=ctx.params.password_hash)
    if server.vm_state is VmState.ACTIVE:
        ctx.driver.set_password(server, creds)
        return
    with ctx.uow_factory(write=False) as uow:
        disk = uow.volumes.system_disk(server.id)
    if disk is None:
        raise StepFailed(
            errors.NO_SYSTEM_DISK.code, "The server has no system disk to write the password into."
        )
    ctx.driver.inject_credentials(disk, creds)


def _release(uow: UnitOfWork, ctx: StepContext[PasswordParams]) -> None:
    ctx.change_server(uow, transitions.released())


DEFINITION = JobDefinition(
    job_type=JobType.RESET_PASSWORD,
    steps=(Step(RESET, _reset, TaskState.UPDATING_PASSWORD, record=_release, compensate=_release),),
    policy=FailurePolicy.CONTINUE,
    parse_params=decoder(PasswordParams),
)
