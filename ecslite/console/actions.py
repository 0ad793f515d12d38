"""What the console reads and changes, always inside the session's project.

Reads return the API's own wire views (``server_detail``, ``job_view``), so the page renders
exactly what ``GET /v1/.../cloudservers/{id}`` and ``GET /v1/.../jobs/{id}`` answer — the same
JSON the event stream carries. Changes go through the same rules and services as the API:
``domain.reinstall`` checks, ``services.reinstall.accept_reinstall`` (reinstall and change OS),
``services.lifecycle.accept_delete``, ``services.keypairs.create_keypair``; every error is the
API's ``EcsError``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ecslite.api.routes.lifecycle import AVAILABILITY_ZONE
from ecslite.api.views import job_view, keypair_summary, server_detail
from ecslite.auth.authenticator import Principal
from ecslite.bootstrap import Container
from ecslite.cloudinit.payload import hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain import errors
from ecslite.domain.create import DiskRequest
from ecslite.domain.flavor import Flavor
from ecslite.domain.reinstall import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    PASSWORD_MIN_CLASSES,
    PASSWORD_SPECIALS,
    check_credentials,
    check_password,
    decode_user_data,
)
from ecslite.domain.reinstall import Encryption as _Encryption
from ecslite.domain.resources import Image, Keypair, KmsKey
from ecslite.domain.server import Server
from ecslite.services.create import CreateCommand, accept_create
from ecslite.services.keypairs import create_keypair
from ecslite.services.lifecycle import accept_delete
from ecslite.services.reinstall import ReinstallCommand, accept_reinstall
from ecslite.services.server_query import contexts
from ecslite.store.uow import UnitOfWork

MAX_SERVERS = 200
RECENT_JOBS = 20


def password_rules() -> dict[str, Any]:
    """The API's password rules as data, rendered into the page for the as-you-type check."""
    return {
        "min": PASSWORD_MIN,
        "max": PASSWORD_MAX,
        "specials": "".join(sorted(PASSWORD_SPECIALS)),
        "min_classes": PASSWORD_MIN_CLASSES,
    }


def _details(c: Container, uow: UnitOfWork, servers: list[Server]) -> list[dict[str, Any]]:
    # The driver's guest network too: the console shows a qemu guest's ssh command.
    return [server_detail(s, ctx) for s, ctx in contexts(uow, servers, c.driver.guest_network)]


def list_servers(c: Container, who: Principal) -> list[dict[str, Any]]:
    with c.uow_factory(write=False) as uow:
        servers, _ = uow.servers.list(
            who.project_id, limit=MAX_SERVERS, offset=0, status=None, name=None
        )
        # By name: rows keep their place while the page updates them.
        return _details(c, uow, sorted(servers, key=lambda s: (s.name, s.id)))


@dataclass(frozen=True)
class Disk:
    id: str
    role: str  # "system" | "data"
    device: str
    size_gb: int
    volume_type: str
    encrypted: bool
    cmk_id: str | None


@dataclass(frozen=True)
class ServerPage:
    server: dict[str, Any]
    disks: tuple[Disk, ...]
    console_tail: str


def show_server(c: Container, who: Principal, server_id: str) -> dict[str, Any]:
    with c.uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, who.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        return _details(c, uow, [server])[0]


def server_page(c: Container, who: Principal, server_id: str, *, lines: int = 40) -> ServerPage:
    with c.uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, who.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        detail = _details(c, uow, [server])[0]
        volumes = uow.volumes.attached_to([server.id])[server.id]
    disks = tuple(
        Disk(
            id=v.id,
            role="system" if v.is_system_disk else "data",
            device=v.device or "",
            size_gb=v.size_gb,
            volume_type=v.volume_type,
            encrypted=v.encrypted,
            cmk_id=v.cmk_id,
        )
        for v in sorted(volumes, key=lambda v: (not v.is_system_disk, v.device or ""))
    )
    return ServerPage(detail, disks, c.driver.console_output(server, lines))


def recent_jobs(
    c: Container, who: Principal, *, server_id: str | None = None
) -> list[dict[str, Any]]:
    with c.uow_factory(write=False) as uow:
        jobs = uow.jobs.recent(who.project_id, server_id=server_id, limit=RECENT_JOBS)
    return [job_view(j) for j in jobs]


def show_job(c: Container, who: Principal, job_id: str) -> dict[str, Any]:
    with c.uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id, who.project_id)
    if job is None:
        raise errors.EcsError(errors.JOB_NOT_FOUND, f"Job {job_id} does not exist.")
    return job_view(job)


@dataclass(frozen=True)
class ReinstallForm:
    """The dialog's choices. ``user_data`` is the text as typed or read from a file.

    ``image_id`` set: change OS to that image, as ``POST .../changeos`` does.
    """

    keyname: str | None
    adminpass: str | None
    user_data: str | None
    cmk_id: str | None
    stop_first: bool
    image_id: str | None = None


def reinstall(c: Container, who: Principal, server_id: str, form: ReinstallForm) -> str:
    """Accept a reinstall (or, with ``form.image_id``, a change OS) as the API does; return
    the job id."""
    user_data = None
    if form.user_data:
        encoded = base64.b64encode(form.user_data.encode("utf-8")).decode("ascii")
        user_data = decode_user_data(encoded)  # the API's size rules apply to the same bytes
        check_user_data(user_data)
    # A key pair is the logged-in user's own, as in the dialog's list.
    userid = who.user_id if form.keyname else None
    check_credentials(
        adminpass=form.adminpass,
        keyname=form.keyname,
        userid=userid,
        has_user_data=bool(user_data),
    )
    cmd = ReinstallCommand(
        project_id=who.project_id,
        server_id=server_id,
        keyname=form.keyname,
        userid=userid,
        # The plaintext password stops here, as in the API route.
        password_hash=hash_password(form.adminpass) if form.adminpass is not None else None,
        user_data=user_data,
        byol=False,
        encryption=_Encryption(cmk_id=form.cmk_id) if form.cmk_id else None,
        stop_first=form.stop_first,
        image_id=form.image_id,
        change_os=form.image_id is not None,
    )
    job_id = accept_reinstall(cmd, uow_factory=c.uow_factory, clock=c.clock)
    c.runner.wake()
    return job_id


def delete_server(c: Container, who: Principal, server_id: str, *, delete_volume: bool) -> str:
    """Accept a delete as ``POST .../cloudservers/delete`` does for one server; return the job id.

    ``delete_volume``: its data disks go too (the system disk always does).
    """
    job_id = accept_delete(
        project_id=who.project_id,
        server_ids=[server_id],
        delete_volume=delete_volume,
        uow_factory=c.uow_factory,
        clock=c.clock,
    )
    c.runner.wake()
    return job_id


# The volume type of the console's data disk: the one the API defaults a system disk to.
DATA_DISK_TYPE = "SSD"


@dataclass(frozen=True)
class CreateForm:
    """The Create dialog's choices; ``subnet_id`` implies its VPC."""

    name: str
    image_id: str
    flavor_id: str
    subnet_id: str
    keyname: str | None
    adminpass: str | None
    data_disk_gb: int | None


@dataclass(frozen=True)
class SubnetChoice:
    id: str
    vpc_id: str
    label: str


@dataclass(frozen=True)
class CreateChoices:
    images: list[Image]
    flavors: list[Flavor]
    subnets: list[SubnetChoice]


def create_choices(c: Container, who: Principal) -> CreateChoices:
    """What the Create dialog offers: usable images, the flavor catalogue, the project's subnets."""
    with c.uow_factory(write=False) as uow:
        images = [i for i in uow.images.visible(who.project_id) if i.active]
        flavors = uow.flavors.all()
        vpcs = {v.id: v.name for v in uow.networks.vpcs(who.project_id)}
        subnets = [
            SubnetChoice(s.id, s.vpc_id, f"{vpcs.get(s.vpc_id, s.vpc_id)} / {s.name} ({s.cidr})")
            for s in uow.networks.subnets(who.project_id)
        ]
    return CreateChoices(images, flavors, subnets)


def create_server(c: Container, who: Principal, form: CreateForm) -> tuple[str, str]:
    """Accept one server's create as ``POST /v1/{p}/cloudservers`` does; return (job, server)."""
    if form.adminpass is not None:
        check_password(form.adminpass)
    with c.uow_factory(write=False) as uow:
        subnet = uow.networks.subnet(form.subnet_id, who.project_id)
    # An unknown subnet names no VPC; the service refuses it with the API's own error.
    vpc_id = subnet.vpc_id if subnet is not None else ""
    cmd = CreateCommand(
        project_id=who.project_id,
        user_id=who.user_id,
        name=form.name,
        image_id=form.image_id,
        flavor_id=form.flavor_id,
        vpc_id=vpc_id,
        subnet_ids=(form.subnet_id,),
        data_volumes=(
            (DiskRequest(volume_type=DATA_DISK_TYPE, size_gb=form.data_disk_gb),)
            if form.data_disk_gb
            else ()
        ),
        key_name=form.keyname,
        # The plaintext password stops here, as in the API route.
        password_hash=hash_password(form.adminpass) if form.adminpass is not None else None,
        availability_zone=AVAILABILITY_ZONE,
    )
    accepted = accept_create(cmd, uow_factory=c.uow_factory, clock=c.clock)
    c.runner.wake()
    return accepted.job_id, accepted.server_ids[0]


def cloudinit_images(c: Container, who: Principal) -> list[Image]:
    """Active images the project may use that run Cloud-Init: what change OS offers."""
    with c.uow_factory(write=False) as uow:
        return [i for i in uow.images.visible(who.project_id) if i.active and i.cloud_init]


def keypairs(c: Container, who: Principal) -> list[Keypair]:
    with c.uow_factory(write=False) as uow:
        return list(uow.catalog.keypairs(who.user_id))


def keypair_views(c: Container, who: Principal) -> list[dict[str, Any]]:
    return [keypair_summary(k) for k in keypairs(c, who)]


def add_keypair(
    c: Container, who: Principal, *, name: str, public_key: str | None
) -> tuple[Keypair, str | None]:
    """Import ``public_key`` or generate a pair; the private key is returned once, never kept."""
    return create_keypair(
        user_id=who.user_id,
        name=name,
        public_key=public_key,
        key_type="ssh",
        uow_factory=c.uow_factory,
        clock=c.clock,
    )


def delete_keypair(c: Container, who: Principal, name: str) -> None:
    with c.uow_factory() as uow:
        deleted = uow.catalog.delete_keypair(who.user_id, name)
        uow.commit()
    if not deleted:
        raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)


def cmks(c: Container, who: Principal) -> list[KmsKey]:
    """The project's enabled CMKs, offered for an encrypted system disk."""
    with c.uow_factory(write=False) as uow:
        return [k for k in uow.catalog.kms_keys(who.project_id) if k.enabled]
