"""What the console reads and changes, always inside the session's project.

Reads return the API's own wire views of the one read model (``server_detail``, ``job_view``),
so the page renders exactly what ``GET /v1/.../cloudservers/{id}`` and ``GET /v1/.../jobs/{id}``
answer — the same JSON the event stream carries. Changes are the API's own commands submitted
to the same facade (``ReinstallServer``, ``CreateServers``, ``DeleteServers``, ``CreateKeypair``,
``DeleteKeypair``); every error is the API's ``EcsError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecslite.api.views import job_view, keypair_summary, server_detail
from ecslite.auth.authenticator import Principal
from ecslite.domain.create import DiskRequest
from ecslite.domain.flavor import Flavor
from ecslite.domain.reinstall import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    PASSWORD_MIN_CLASSES,
    PASSWORD_SPECIALS,
)
from ecslite.domain.resources import Image, Keypair, KmsKey
from ecslite.services.create import CreateServers
from ecslite.services.facade import Services
from ecslite.services.keypairs import CreateKeypair, DeleteKeypair, KeypairCreated
from ecslite.services.lifecycle import DeleteServers
from ecslite.services.read_model import ServerFilter
from ecslite.services.reinstall import ReinstallServer

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


def list_servers(svc: Services, who: Principal) -> list[dict[str, Any]]:
    records, _ = svc.servers.page(who.project_id, flt=ServerFilter(), limit=MAX_SERVERS, offset=0)
    # By name: rows keep their place while the page updates them.
    records.sort(key=lambda r: (r.server.name, r.server.id))
    return [server_detail(r) for r in records]


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


def show_server(svc: Services, who: Principal, server_id: str) -> dict[str, Any]:
    return server_detail(svc.servers.show(who.project_id, server_id))


def server_page(svc: Services, who: Principal, server_id: str, *, lines: int = 40) -> ServerPage:
    record = svc.servers.show(who.project_id, server_id)
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
        for v in sorted(record.volumes, key=lambda v: (not v.is_system_disk, v.device or ""))
    )
    tail = svc.servers.console_output(who.project_id, server_id, lines)
    return ServerPage(server_detail(record), disks, tail)


def recent_jobs(
    svc: Services, who: Principal, *, server_id: str | None = None
) -> list[dict[str, Any]]:
    jobs = svc.jobs.recent(who.project_id, server_id=server_id, limit=RECENT_JOBS)
    return [job_view(j) for j in jobs]


def show_job(svc: Services, who: Principal, job_id: str) -> dict[str, Any]:
    return job_view(svc.jobs.show(who.project_id, job_id))


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


def reinstall(svc: Services, who: Principal, server_id: str, form: ReinstallForm) -> str:
    """Accept a reinstall (or, with ``form.image_id``, a change OS) as the API does; return
    the job id."""
    command = ReinstallServer(
        project_id=who.project_id,
        server_id=server_id,
        keyname=form.keyname,
        # A key pair is the logged-in user's own, as in the dialog's list.
        userid=who.user_id if form.keyname else None,
        adminpass=form.adminpass,
        user_data=form.user_data.encode("utf-8") if form.user_data else None,
        system_encrypted="1" if form.cmk_id else None,
        system_cmkid=form.cmk_id,
        stop_first=form.stop_first,
        image_id=form.image_id,
    )
    return svc.ops.submit(command).job_id


def delete_server(svc: Services, who: Principal, server_id: str, *, delete_volume: bool) -> str:
    """Accept a delete as ``POST .../cloudservers/delete`` does for one server; return the job id.

    ``delete_volume``: its data disks go too (the system disk always does).
    """
    command = DeleteServers(who.project_id, (server_id,), delete_volume=delete_volume)
    return svc.ops.submit(command).job_id


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


def create_choices(svc: Services, who: Principal) -> CreateChoices:
    """What the Create dialog offers: usable images, the flavor catalogue, the project's subnets."""
    images = [i for i in svc.catalog.images(who.project_id) if i.active]
    nets = svc.catalog.networks(who.project_id)
    vpcs = {v.id: v.name for v in nets.vpcs}
    subnets = [
        SubnetChoice(s.id, s.vpc_id, f"{vpcs.get(s.vpc_id, s.vpc_id)} / {s.name} ({s.cidr})")
        for s in nets.subnets
    ]
    return CreateChoices(images, svc.catalog.flavors(), subnets)


def create_server(svc: Services, who: Principal, form: CreateForm) -> tuple[str, str]:
    """Accept one server's create as ``POST /v1/{p}/cloudservers`` does; return (job, server)."""
    subnet = svc.catalog.subnet(who.project_id, form.subnet_id)
    # An unknown subnet names no VPC; the service refuses it with the API's own error.
    vpc_id = subnet.vpc_id if subnet is not None else ""
    command = CreateServers(
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
        admin_pass=form.adminpass,
    )
    accepted = svc.ops.submit(command)
    return accepted.job_id, accepted.server_ids[0]


def cloudinit_images(svc: Services, who: Principal) -> list[Image]:
    """Active images the project may use that run Cloud-Init: what change OS offers."""
    return [i for i in svc.catalog.images(who.project_id) if i.active and i.cloud_init]


def keypairs(svc: Services, who: Principal) -> list[Keypair]:
    return svc.keypairs.of_user(who.user_id)


def keypair_views(svc: Services, who: Principal) -> list[dict[str, Any]]:
    return [keypair_summary(k) for k in keypairs(svc, who)]


def add_keypair(
    svc: Services, who: Principal, *, name: str, public_key: str | None
) -> KeypairCreated:
    """Import ``public_key`` or generate a pair; the private key is returned once, never kept."""
    return svc.ops.submit(
        CreateKeypair(
            user_id=who.user_id, domain_id=who.domain_id, name=name, public_key=public_key
        )
    )


def delete_keypair(svc: Services, who: Principal, name: str) -> None:
    svc.ops.submit(DeleteKeypair(user_id=who.user_id, name=name))


def cmks(svc: Services, who: Principal) -> list[KmsKey]:
    """The project's enabled CMKs, offered for an encrypted system disk."""
    return [k for k in svc.catalog.cmks(who.project_id) if k.enabled]
