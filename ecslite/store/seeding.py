"""Load a declarative seed (YAML or dict) into the store. Idempotent: existing ids are kept.

The format is documented in docs/seed.md. Servers are given by their API status (ACTIVE,
SHUTOFF or ERROR) with a system disk and data disks; everything else mirrors the API's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from argon2 import PasswordHasher
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError

from ecslite.domain.clock import Clock
from ecslite.domain.flavor import Flavor
from ecslite.domain.host import DEFAULT_HOST, Allocation
from ecslite.domain.keys import fingerprint
from ecslite.domain.network import Subnet, Vpc, valid_cidr
from ecslite.domain.resources import Image, Keypair, KmsKey, Project, User
from ecslite.domain.server import AVAILABILITY_ZONE, Server, VmState, Volume
from ecslite.store import tables as t
from ecslite.store.identity import Domain
from ecslite.store.secretbox import SecretBox
from ecslite.store.uow import UowFactory


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DomainSeed(_Strict):
    id: str
    name: str


class UserSeed(_Strict):
    id: str
    name: str
    domain_id: str
    password: str | None = None


class ProjectSeed(_Strict):
    id: str
    name: str
    domain_id: str
    region: str = "eu-de"
    # Overrides of the default quotas: instances, cores, ram_mb, volumes.
    quotas: dict[Literal["instances", "cores", "ram_mb", "volumes"], int] | None = None


class FlavorSeed(_Strict):
    id: str
    vcpus: int = Field(ge=1)
    ram_mb: int = Field(ge=128)
    disk_gb: int = Field(default=0, ge=0)


def _cidr(value: str) -> str:
    if not valid_cidr(value):
        raise ValueError(f"{value!r} is not an IPv4 CIDR with at least 4 addresses")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


class VpcSeed(_Strict):
    id: str
    project_id: str
    name: str
    cidr: Cidr = "192.168.0.0/16"


class SubnetSeed(_Strict):
    id: str
    project_id: str
    vpc_id: str
    name: str
    cidr: Cidr = "192.168.0.0/24"


class AccessKeySeed(_Strict):
    access_key: str
    secret_key: str
    user_id: str


class ImageSeed(_Strict):
    id: str
    name: str
    status: str = "active"
    cloud_init: bool = True
    os_type: str = "Linux"
    min_disk_gb: int = 10
    project_id: str | None = None
    password_agent: bool = False


class KeypairSeed(_Strict):
    user_id: str
    name: str
    public_key: str


class KmsKeySeed(_Strict):
    id: str
    project_id: str
    alias: str
    state: Literal["enabled", "disabled"] = "enabled"


class DiskSeed(_Strict):
    id: str
    size_gb: int = 40
    volume_type: str = "SSD"
    device: str | None = None


class ServerSeed(_Strict):
    id: str
    project_id: str
    user_id: str
    name: str
    image_id: str
    status: Literal["ACTIVE", "SHUTOFF", "ERROR"] = "SHUTOFF"
    flavor_id: str = "s3.small.1"
    key_name: str | None = None
    system_disk: DiskSeed | None = None
    data_disks: list[DiskSeed] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)


class FaultSeed(_Strict):
    step: str
    server_id: str | None = None
    times: int = 1
    error_code: str = "Ecs.0002"
    message: str = "Injected failure."


class SeedDocument(_Strict):
    domains: list[DomainSeed] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)
    projects: list[ProjectSeed] = Field(default_factory=list)
    access_keys: list[AccessKeySeed] = Field(default_factory=list)
    images: list[ImageSeed] = Field(default_factory=list)
    flavors: list[FlavorSeed] = Field(default_factory=list)
    vpcs: list[VpcSeed] = Field(default_factory=list)
    subnets: list[SubnetSeed] = Field(default_factory=list)
    keypairs: list[KeypairSeed] = Field(default_factory=list)
    kms_keys: list[KmsKeySeed] = Field(default_factory=list)
    servers: list[ServerSeed] = Field(default_factory=list)
    faults: list[FaultSeed] = Field(default_factory=list)


class SeedError(ValueError):
    """A seed file that cannot be loaded; the message says why (no traceback for the user)."""


class SeedConflict(SeedError):
    """A seed record that the store cannot take next to what it holds."""

    def __init__(self, kind: str, key: dict[str, Any], exc: IntegrityError) -> None:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint failed"
        ident = ", ".join(f"{k}={v}" for k, v in key.items())
        super().__init__(
            f"{kind} record ({ident}) conflicts with the store: {reason}. Nothing of the seed "
            "was loaded."
        )


def load_seed_file(path: Path) -> SeedDocument:
    try:
        return SeedDocument.model_validate(yaml.safe_load(path.read_text()) or {})
    except OSError as exc:
        raise SeedError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SeedError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise SeedError(f"{path} is not a valid seed:\n{exc}") from None


_STATUS_TO_VM = {"ACTIVE": VmState.ACTIVE, "SHUTOFF": VmState.STOPPED, "ERROR": VmState.ERROR}
_DEVICES = [f"/dev/vd{c}" for c in "bcdefghijklmnop"]


def apply_seed(
    doc: SeedDocument, *, uow_factory: UowFactory, box: SecretBox, clock: Clock
) -> dict[str, int]:
    """Insert every record whose id is not present yet; return how many of each were added.

    Every record goes in through its repository, in one transaction: a record the store cannot
    take (a unique name already held, a reference to nothing) refuses the whole file.
    """
    added: dict[str, int] = {}
    now = clock.iso(millis=False)

    def count(kind: str, inserted: bool) -> None:
        if inserted:
            added[kind] = added.get(kind, 0) + 1

    with uow_factory() as uow:
        ident, catalog = uow.identity, uow.catalog
        for d in doc.domains:
            with _refused("domains", {"id": d.id}):
                count("domains", ident.add_domain(Domain(d.id, d.name)))
        for u in doc.users:
            if ident.user(u.id) is not None:
                continue  # kept with its password, and not hashed again (argon2 costs ~0.3 s)
            pw = PasswordHasher().hash(u.password) if u.password else None
            with _refused("users", {"id": u.id}):
                count("users", ident.add_user(User(u.id, u.name, u.domain_id), password_hash=pw))
        for p in doc.projects:
            quotas = {str(k): v for k, v in p.quotas.items()} if p.quotas else None
            with _refused("projects", {"id": p.id}):
                project = Project(p.id, p.name, p.domain_id, p.region)
                count("projects", catalog.add_project(project, quotas=quotas))
        for ak in doc.access_keys:
            if ident.access_key(ak.access_key) is not None:
                continue
            with _refused("access_keys", {"access_key": ak.access_key}):
                ident.add_access_key(
                    access_key=ak.access_key,
                    user_id=ak.user_id,
                    sealed=box.seal(ak.secret_key),
                    created=now,
                )
            count("access_keys", True)
        for im in doc.images:
            with _refused("images", {"id": im.id}):
                count("images", catalog.add_image(Image(**im.model_dump())))
        for fl in doc.flavors:
            with _refused("flavors", {"id": fl.id}):
                count("flavors", uow.flavors.add(Flavor(**fl.model_dump())))
        for vpc in doc.vpcs:
            with _refused("vpcs", {"id": vpc.id}):
                count("vpcs", uow.networks.add_vpc(Vpc(**vpc.model_dump())))
        for sn in doc.subnets:
            with _refused("subnets", {"id": sn.id}):
                count("subnets", uow.networks.add_subnet(Subnet(**sn.model_dump())))
        for kp in doc.keypairs:
            if catalog.keypair(kp.user_id, kp.name) is not None:
                continue
            keypair = Keypair(
                user_id=kp.user_id,
                name=kp.name,
                public_key=kp.public_key.strip(),
                fingerprint=fingerprint(kp.public_key),
                type="ssh",
                created=clock.iso(),
            )
            with _refused("keypairs", {"user_id": kp.user_id, "name": kp.name}):
                catalog.add_keypair(keypair)
            count("keypairs", True)
        for k in doc.kms_keys:
            with _refused("kms_keys", {"id": k.id}):
                count("kms_keys", catalog.add_kms_key(KmsKey(k.id, k.project_id, k.alias, k.state)))
        for s in doc.servers:
            if uow.servers.get(s.id) is not None:
                # The server's disks are its own from here on: a reinstall replaces the seeded
                # system disk, and seeding again must not bring the old one back.
                continue
            with _refused("servers", {"id": s.id}):
                uow.servers.add(_server(s, now))
            count("servers", True)
            disks = _disks(s, now)
            for volume in disks:
                with _refused("volumes", {"id": volume.id}):
                    count("volumes", uow.volumes.add(volume))
            flavor = uow.flavors.get(s.flavor_id)
            uow.hosts.allocate(
                [
                    Allocation(
                        server_id=s.id,
                        host_id=DEFAULT_HOST,
                        vcpus=flavor.vcpus if flavor else 1,
                        ram_mb=flavor.ram_mb if flavor else 1024,
                        disk_gb=sum(v.size_gb for v in disks),
                    )
                ]
            )
        for f in doc.faults:
            uow.faults.add(
                step=f.step,
                server_id=f.server_id,
                times=f.times,
                error_code=f.error_code,
                message=f.message,
            )
            count("faults", True)
        # A seeded server is where the stream starts, not a change it reports.
        uow.changes.servers.clear()
        uow.commit()
    return added


@contextmanager
def _refused(kind: str, key: dict[str, Any]) -> Iterator[None]:
    """Turn the store's refusal of a record into a SeedConflict naming it."""
    try:
        yield
    except IntegrityError as exc:
        # Another record already holds a unique value (a name), or a reference points
        # nowhere: refuse the whole file, nothing of it is kept.
        raise SeedConflict(kind, key, exc) from None


def _server(s: ServerSeed, now: str) -> Server:
    return Server(
        id=s.id,
        project_id=s.project_id,
        user_id=s.user_id,
        name=s.name,
        image_id=s.image_id,
        flavor_id=s.flavor_id,
        availability_zone=AVAILABILITY_ZONE,
        host_id=DEFAULT_HOST,
        vm_state=_STATUS_TO_VM[s.status],
        task_state=None,
        key_name=s.key_name,
        fault=None,
        metadata=s.metadata,
        current_job_id=None,
        created=now,
        updated=now,
        version=0,
    )


def _disks(s: ServerSeed, now: str) -> list[Volume]:
    """The seeded server's system disk (boot index 0, from its image), then its data disks."""
    disks: list[tuple[DiskSeed, int | None, str]] = (
        [(s.system_disk, 0, "/dev/vda")] if s.system_disk else []
    )
    disks += [(d, None, _DEVICES[i]) for i, d in enumerate(s.data_disks)]
    return [
        Volume(
            id=disk.id,
            project_id=s.project_id,
            server_id=s.id,
            device=disk.device or default_device,
            boot_index=boot_index,
            size_gb=disk.size_gb,
            volume_type=disk.volume_type,
            status="in-use",
            image_id=s.image_id if boot_index == 0 else None,
            encrypted=False,
            cmk_id=None,
            created=now,
        )
        for disk, boot_index, default_device in disks
    ]


def wipe(uow_factory: UowFactory) -> None:
    """Delete every record (the schema stays): the admin reset."""
    order = [
        t.events,
        t.client_tokens,
        t.sub_jobs,
        t.jobs,
        t.sim_faults,
        t.allocations,
        t.ports,
        t.volumes,
        t.servers,
        t.subnets,
        t.vpcs,
        t.flavors,
        t.keypairs,
        t.kms_keys,
        t.images,
        t.auth_tokens,
        t.access_keys,
        t.projects,
        t.users,
        t.domains,
    ]
    with uow_factory() as uow:
        for table in order:
            uow.conn.execute(table.delete())
        uow.commit()
