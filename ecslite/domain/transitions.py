"""Named changes of a server's state: what each step of a job does to the server record.

A ``ServerChange`` lists only the fields it sets (``KEEP`` leaves a field as it is); the store
applies it as one compare-and-swap. Jobs and services use the constructors below, so every
state a server can be put in has a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ecslite.domain.boot import BootConfig
from ecslite.domain.server import TaskState, VmState


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP


@dataclass(frozen=True)
class ServerChange:
    vm_state: VmState | _Keep = KEEP
    task_state: TaskState | _Keep | None = KEEP
    current_job_id: str | _Keep | None = KEEP
    fault: dict[str, Any] | _Keep | None = KEEP
    key_name: str | _Keep | None = KEEP
    image_id: str | _Keep = KEEP
    name: str | _Keep = KEEP
    metadata: dict[str, str] | _Keep = KEEP
    pending_boot_config: BootConfig | _Keep | None = KEEP
    # The next boot applies the pending config (the reinstall's new keys and user data).
    promote_pending_boot: bool = False


def claimed(job_id: str, task: TaskState, *, pending: BootConfig | None = None) -> ServerChange:
    """A job accepted on the server: busy from now on."""
    return ServerChange(
        task_state=task,
        current_job_id=job_id,
        pending_boot_config=pending if pending is not None else KEEP,
    )


def step_started(task: TaskState) -> ServerChange:
    return ServerChange(task_state=task)


def powered(vm_state: VmState) -> ServerChange:
    """The guest was stopped or started while the job goes on."""
    return ServerChange(vm_state=vm_state)


def released(vm_state: VmState | _Keep = KEEP) -> ServerChange:
    """The job is done with the server (a power action ended, or failed)."""
    return ServerChange(vm_state=vm_state, task_state=None, current_job_id=None)


def reinstalled(
    key_name: str | None, image_id: str, vm_state: VmState = VmState.ACTIVE
) -> ServerChange:
    """The new system runs, verified, on the new disk with the new boot config and its image.

    ``vm_state`` is STOPPED for a Nova rebuild of a SHUTOFF server, which ends as it began.
    """
    return ServerChange(
        vm_state=vm_state,
        task_state=None,
        current_job_id=None,
        fault=None,
        key_name=key_name,
        image_id=image_id,
        promote_pending_boot=True,
        pending_boot_config=None,
    )


def rolled_back(vm_state: VmState, fault: dict[str, Any] | None) -> ServerChange:
    """Back on the old disk in the state it had (its earlier fault, if any, with it)."""
    return ServerChange(
        vm_state=vm_state,
        task_state=None,
        current_job_id=None,
        pending_boot_config=None,
        fault=fault,
    )


def reinstall_failed(fault: dict[str, Any]) -> ServerChange:
    """Neither the new system nor the old one could be put in place: ERROR with a fault."""
    return ServerChange(
        vm_state=VmState.ERROR,
        task_state=None,
        current_job_id=None,
        pending_boot_config=None,
        fault=fault,
    )


def described(*, name: str | None, metadata: dict[str, str] | None) -> ServerChange:
    """A new name and/or metadata (Nova's rebuild sets them; they are not a job's business)."""
    return ServerChange(
        name=name if name is not None else KEEP,
        metadata=dict(metadata) if metadata is not None else KEEP,
    )


def built() -> ServerChange:
    """A created server booted and verified: ACTIVE, released by its create job."""
    return ServerChange(vm_state=VmState.ACTIVE, task_state=None, current_job_id=None)


def rebooted() -> ServerChange:
    """The guest went down and came back up with its unchanged boot config."""
    return ServerChange(vm_state=VmState.ACTIVE, task_state=None, current_job_id=None)


def reboot_failed() -> ServerChange:
    """A reboot failed; the guest was powered off so the record says what it is: SHUTOFF."""
    return ServerChange(vm_state=VmState.STOPPED, task_state=None, current_job_id=None)


def delete_failed(fault: dict[str, Any]) -> ServerChange:
    """A delete failed part-way: ERROR with a fault, free, so a new delete is accepted."""
    return ServerChange(vm_state=VmState.ERROR, task_state=None, current_job_id=None, fault=fault)
