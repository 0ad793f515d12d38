"""The create job: give each new server its disks, its cloud-init seed, and boot it.

Sub-jobs, per server in order: createSystemDisk → createDataDisks → attachDisks →
injectCloudInit → startServer → verifyCloudInit. The server records and their fixed IPs were
written when the request was accepted (status BUILD); each step records what it made, so a
resumed job skips finished steps and the idempotent driver calls make a repeated step harmless.

The servers were placed when the request was accepted; servers on several hosts make one
part per host (services/placement.py), each run on its host, in parallel. A failure rolls
back (policy ROLL_BACK) every server of the part whose build had not finished (a part's
servers are built one after the other; one that reached ACTIVE stays): it is powered off, its
disks detached and deleted, its ports and record removed, so nothing is orphaned. The
job is FAIL with the failing step's reason; a crash during the rollback resumes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, WrapSerializer

from ecslite.domain import errors, transitions
from ecslite.domain.codec import decoder
from ecslite.domain.host import DEFAULT_HOST
from ecslite.domain.job import JobType
from ecslite.domain.server import TaskState, VmState, Volume
from ecslite.drivers.base import DiskSpec, GuestSize
from ecslite.jobs.steps import (
    FailurePolicy,
    JobDefinition,
    Step,
    StepContext,
    StepFailed,
)
from ecslite.store.uow import UnitOfWork

log = logging.getLogger("ecslite.jobs.create")

CREATE_SYSTEM = "createSystemDisk"
CREATE_DATA = "createDataDisks"
ATTACH = "attachDisks"
INJECT = "injectCloudInit"
START = "startServer"
VERIFY = "verifyCloudInit"
SYSTEM_DEVICE = "/dev/vda"


@dataclass(frozen=True)
class DiskPlan:
    id: str
    size_gb: int
    volume_type: str
    device: str = SYSTEM_DEVICE


@dataclass(frozen=True)
class ServerBuild:
    """The disks the job makes for one server (ids chosen at accept, so steps are repeatable)."""

    system: DiskPlan
    data: tuple[DiskPlan, ...] = ()


def _pairs(value: Any) -> Any:
    """The stored object keyed by server id, as (server id, build) pairs in its order."""
    return tuple(value.items()) if isinstance(value, Mapping) else value


@dataclass(frozen=True)
class CreateParams:
    image_id: str
    # (server id, its disks), in build order; stored as one object keyed by server id.
    servers: Annotated[
        tuple[tuple[str, ServerBuild], ...],
        BeforeValidator(_pairs),
        WrapSerializer(lambda pairs, handler: dict(handler(pairs))),
    ]

    def build(self, server_id: str) -> ServerBuild:
        return dict(self.servers)[server_id]


Ctx = StepContext[CreateParams]


def server_steps() -> list[str]:
    return [s.name for s in DEFINITION.steps]


def _volumes(ctx: Ctx, server_id: str) -> tuple[Volume, list[tuple[Volume, str]]]:
    """The system disk and (data disk, device) pairs the job makes for ``server_id``."""
    build = ctx.params.build(server_id)
    now = ctx.clock.iso(millis=False)
    # Placed when the create was accepted: the part of the job this runner runs is that host's.
    host = ctx.job.host_id or DEFAULT_HOST

    def volume(d: DiskPlan, image_id: str | None) -> Volume:
        return Volume(
            id=d.id,
            project_id=ctx.job.project_id,
            size_gb=d.size_gb,
            volume_type=d.volume_type,
            status="available",
            image_id=image_id,
            created=now,
            host_id=host,
        )

    system = volume(build.system, ctx.params.image_id)
    return system, [(volume(d, None), d.device) for d in build.data]


def _server(ctx: Ctx) -> Any:
    assert ctx.server is not None
    return ctx.server


# -- acts ---------------------------------------------------------------------------------------


def _create_system(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        image = uow.catalog.image(ctx.params.image_id)
    if image is None:
        raise StepFailed(
            errors.IMAGE_NOT_FOUND.code, "The image was deleted before the server was built."
        )
    system, _ = _volumes(ctx, ctx.server_id)
    ctx.driver.create_disk_from_image(DiskSpec(volume=system, image=image))


def _create_data(ctx: Ctx) -> None:
    for vol, _ in _volumes(ctx, ctx.server_id)[1]:
        ctx.driver.ensure_volume(vol, None)


def _attach(ctx: Ctx) -> None:
    system, data = _volumes(ctx, ctx.server_id)
    ctx.driver.attach_disk(_server(ctx), system, device=SYSTEM_DEVICE, boot_index=0)
    for vol, device in data:
        ctx.driver.attach_disk(_server(ctx), vol, device=device, boot_index=None)


def _inject(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        boot = uow.servers.boot_config(ctx.server_id)
    ctx.driver.write_seed(_server(ctx), boot)


def _start(ctx: Ctx) -> None:
    with ctx.uow_factory(write=False) as uow:
        boot = uow.servers.boot_config(ctx.server_id)
        flavor = uow.flavors.get(_server(ctx).flavor_id)
    ctx.driver.start_server(_server(ctx), boot, size=GuestSize.of(flavor))


def _verify(ctx: Ctx) -> None:
    ctx.driver.verify_boot(_server(ctx))


# -- records ------------------------------------------------------------------------------------


def _system_created(uow: UnitOfWork, ctx: Ctx) -> None:
    uow.volumes.add(_volumes(ctx, ctx.server_id)[0])


def _data_created(uow: UnitOfWork, ctx: Ctx) -> None:
    for vol, _ in _volumes(ctx, ctx.server_id)[1]:
        uow.volumes.add(vol)


def _attached(uow: UnitOfWork, ctx: Ctx) -> None:
    sid = ctx.server_id
    system, data = _volumes(ctx, sid)
    uow.volumes.set_attachment(system.id, server_id=sid, device=SYSTEM_DEVICE, boot_index=0)
    for vol, device in data:
        uow.volumes.set_attachment(vol.id, server_id=sid, device=device, boot_index=None)


def _started(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.powered(VmState.ACTIVE))


def _built(uow: UnitOfWork, ctx: Ctx) -> None:
    ctx.change_server(uow, transitions.built())


# -- failure ------------------------------------------------------------------------------------


def roll_back(ctx: Ctx, error: StepFailed, done: frozenset[str]) -> None:
    """Remove every unfinished server of the job and everything made for it; idempotent."""
    for server_id, _ in ctx.params.servers:
        _remove(ctx, server_id)


def _remove(ctx: Ctx, server_id: str) -> None:
    with ctx.uow_factory(write=False) as uow:
        server = uow.servers.get(server_id)
    system, data = _volumes(ctx, server_id)
    disks = [system, *(v for v, _ in data)]
    if server is not None and server.current_job_id != ctx.job.id:
        return  # released ACTIVE by this job already: its build finished, it stays
    if server is not None:
        ctx.driver.stop_server(server, hard=True)
        for vol in disks:
            ctx.driver.detach_disk(server, vol)
        ctx.driver.release_server(server)
    for vol in disks:
        ctx.driver.delete_disk(vol)
    with ctx.uow_factory() as uow:
        for vol in disks:
            uow.volumes.delete(vol.id)
        uow.networks.delete_ports_of(server_id)
        uow.servers.delete_owned(server_id, job_id=ctx.job.id)
        uow.commit()
    log.info("create rolled back job_id=%s server_id=%s", ctx.job.id, server_id)


DEFINITION = JobDefinition(
    job_type=JobType.CREATE,
    steps=(
        Step(CREATE_SYSTEM, _create_system, TaskState.BLOCK_DEVICE_MAPPING, _system_created),
        Step(CREATE_DATA, _create_data, TaskState.BLOCK_DEVICE_MAPPING, _data_created),
        Step(ATTACH, _attach, TaskState.BLOCK_DEVICE_MAPPING, _attached),
        Step(INJECT, _inject, TaskState.SPAWNING),
        Step(START, _start, TaskState.SPAWNING, _started),
        Step(VERIFY, _verify, TaskState.SPAWNING, _built),
    ),
    policy=FailurePolicy.ROLL_BACK,
    parse_params=decoder(CreateParams),
    roll_back=roll_back,
    # Its disks are recorded (available) before they are attached, and a rollback deletes them.
    held_volumes=lambda p: frozenset(d.id for _, b in p.servers for d in (b.system, *b.data)),
    part_params=lambda params, ids: {
        **params,
        "servers": {k: v for k, v in params["servers"].items() if k in ids},
    },
)
