"""Servers and volumes: the two state axes and the status derived from them.

Like Nova, a server has a stable ``vm_state`` and an in-flight ``task_state``; the API's
``status`` is derived from both (see the ECS statuses appendix, table 4). A server whose
``task_state`` is set is busy: no other operation may start on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class VmState(StrEnum):
    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    ERROR = "error"


class TaskState(StrEnum):
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    REBUILDING = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
    REBUILD_SPAWNING = "rebuild_spawning"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    SPAWNING = "spawning"
    DELETING = "deleting"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    UPDATING_PASSWORD = "updating_password"


REBUILD_TASK_STATES = frozenset(
    {TaskState.REBUILDING, TaskState.REBUILD_BLOCK_DEVICE_MAPPING, TaskState.REBUILD_SPAWNING}
)
# A create's steps: the server is BUILD until its boot is verified, even once its guest runs
# (Nova reports ACTIVE only when a server can take its next request).
BUILD_TASK_STATES = frozenset({TaskState.BLOCK_DEVICE_MAPPING, TaskState.SPAWNING})

# The demo region's (eu-de) first availability zone: the default host's zone, where seeded
# servers live. Hosts name their zones the region's way (domain/host.py zone_name).
AVAILABILITY_ZONE = "eu-de-01"

# The fault code a server carries after a reinstall that could not be rolled back; a new
# reinstall is accepted from exactly this state.
REINSTALL_FAILED_FAULT = "reinstall_failed"


def derive_status(vm_state: VmState, task_state: TaskState | None) -> str:
    """Return the API ``status`` for a pair of states (ECS statuses appendix, table 4)."""
    if task_state in REBUILD_TASK_STATES:
        return "REBUILD"
    if task_state is TaskState.REBOOTING:
        return "REBOOT"
    if task_state is TaskState.REBOOTING_HARD:
        return "HARD_REBOOT"
    if vm_state is VmState.BUILDING or task_state in BUILD_TASK_STATES:
        return "BUILD"
    if vm_state is VmState.ACTIVE:
        return "ACTIVE"
    if vm_state is VmState.STOPPED:
        return "SHUTOFF"
    if vm_state is VmState.ERROR:
        return "ERROR"
    return "UNKNOWN"


@dataclass(frozen=True)
class Volume:
    id: str
    project_id: str
    size_gb: int
    volume_type: str
    status: str
    server_id: str | None = None
    device: str | None = None
    boot_index: int | None = None
    image_id: str | None = None
    encrypted: bool = False
    cmk_id: str | None = None
    created: str = ""
    host_id: str = "local"  # the host holding the disk (its jobs run there)

    @property
    def is_system_disk(self) -> bool:
        return self.boot_index == 0


@dataclass(frozen=True)
class Server:
    id: str
    project_id: str
    user_id: str
    name: str
    image_id: str
    vm_state: VmState
    task_state: TaskState | None
    created: str
    updated: str
    key_name: str | None = None
    flavor_id: str = "s3.small.1"
    availability_zone: str = AVAILABILITY_ZONE
    host_id: str = "local"
    fault: dict[str, str] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    current_job_id: str | None = None
    version: int = 0
    # Nova's accessIPv4/accessIPv6 and description: kept and shown, never configured.
    access_ipv4: str | None = None
    access_ipv6: str | None = None
    description: str | None = None
    # Nova's lock: no operation starts on a locked server (domain/allowed.py).
    locked: bool = False
    # Nova's server tags (2.26+): labels a user filters by, nothing acts on them.
    tags: tuple[str, ...] = ()
    # In the one security group there is, "default" (Nova's add/removeSecurityGroup).
    default_security_group: bool = True

    @property
    def status(self) -> str:
        return derive_status(self.vm_state, self.task_state)

    @property
    def busy(self) -> bool:
        return self.task_state is not None

    @property
    def reinstall_failed(self) -> bool:
        return (
            self.vm_state is VmState.ERROR
            and self.fault is not None
            and self.fault.get("code") == REINSTALL_FAILED_FAULT
        )
