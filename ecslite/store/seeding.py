"""Load a declarative seed (YAML or dict) into the store. Idempotent: existing ids are kept.

The format is documented in docs/seed.md. Servers are given by their API status (ACTIVE,
SHUTOFF or ERROR) with a system disk and data disks; everything else mirrors the API's records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from argon2 import PasswordHasher
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ecslite.domain.clock import Clock
from ecslite.domain.keys import fingerprint
from ecslite.domain.network import valid_cidr
from ecslite.domain.server import VmState
from ecslite.store import tables as t
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
    """Insert every record whose id is not present yet; return how many of each were added."""
    added: dict[str, int] = {}
    now = clock.iso(millis=False)

    with uow_factory() as uow:
        c = uow.conn

        def put(table: Any, key: dict[str, Any], values: dict[str, Any], kind: str) -> bool:
            conds = [table.c[k] == v for k, v in key.items()]
            if c.execute(select(table).where(*conds)).first() is not None:
                return False
            try:
                c.execute(insert(table).values(**key, **values))
            except IntegrityError as exc:
                # Another record already holds a unique value (a name), or a reference points
                # nowhere: refuse the whole file, nothing of it is kept.
                raise SeedConflict(kind, key, exc) from None
            added[kind] = added.get(kind, 0) + 1
            return True

        for d in doc.domains:
            put(t.domains, {"id": d.id}, {"name": d.name}, "domains")
        for u in doc.users:
            pw = PasswordHasher().hash(u.password) if u.password else None
            put(
                t.users,
                {"id": u.id},
                {"name": u.name, "domain_id": u.domain_id, "password_hash": pw},
                "users",
            )
        for p in doc.projects:
            put(
                t.projects,
                {"id": p.id},
                {
                    "name": p.name,
                    "domain_id": p.domain_id,
                    "region": p.region,
                    "quotas": dict(p.quotas) if p.quotas else None,
                },
                "projects",
            )
        for ak in doc.access_keys:
            put(
                t.access_keys,
                {"access_key": ak.access_key},
                {"user_id": ak.user_id, "secret_enc": box.seal(ak.secret_key), "created": now},
                "access_keys",
            )
        for im in doc.images:
            put(t.images, {"id": im.id}, im.model_dump(exclude={"id"}), "images")
        for fl in doc.flavors:
            put(t.flavors, {"id": fl.id}, fl.model_dump(exclude={"id"}), "flavors")
        for vpc in doc.vpcs:
            put(t.vpcs, {"id": vpc.id}, vpc.model_dump(exclude={"id"}), "vpcs")
        for sn in doc.subnets:
            put(t.subnets, {"id": sn.id}, sn.model_dump(exclude={"id"}), "subnets")
        for kp in doc.keypairs:
            put(
                t.keypairs,
                {"user_id": kp.user_id, "name": kp.name},
                {
                    "public_key": kp.public_key.strip(),
                    "fingerprint": fingerprint(kp.public_key),
                    "type": "ssh",
                    "created": clock.iso(),
                },
                "keypairs",
            )
        for k in doc.kms_keys:
            put(
                t.kms_keys,
                {"id": k.id},
                {"project_id": k.project_id, "alias": k.alias, "state": k.state},
                "kms_keys",
            )
        for s in doc.servers:
            new_server = put(
                t.servers,
                {"id": s.id},
                {
                    "project_id": s.project_id,
                    "user_id": s.user_id,
                    "name": s.name,
                    "image_id": s.image_id,
                    "flavor_id": s.flavor_id,
                    "availability_zone": "az1",
                    "host_id": "local",
                    "vm_state": _STATUS_TO_VM[s.status].value,
                    "task_state": None,
                    "key_name": s.key_name,
                    "fault": None,
                    "metadata": s.metadata,
                    "created": now,
                    "updated": now,
                    "version": 0,
                },
                "servers",
            )
            disks: list[tuple[DiskSeed, int | None, str]] = (
                [(s.system_disk, 0, "/dev/vda")] if s.system_disk else []
            )
            disks += [(d, None, _DEVICES[i]) for i, d in enumerate(s.data_disks)]
            if not new_server:
                # The server's disks are its own from here on: a reinstall replaces the seeded
                # system disk, and seeding again must not bring the old one back.
                continue
            for disk, boot_index, default_device in disks:
                assert disk is not None
                put(
                    t.volumes,
                    {"id": disk.id},
                    {
                        "project_id": s.project_id,
                        "server_id": s.id,
                        "device": disk.device or default_device,
                        "boot_index": boot_index,
                        "size_gb": disk.size_gb,
                        "volume_type": disk.volume_type,
                        "status": "in-use",
                        "image_id": s.image_id if boot_index == 0 else None,
                        "encrypted": False,
                        "cmk_id": None,
                        "created": now,
                    },
                    "volumes",
                )
        for f in doc.faults:
            uow.faults.add(
                step=f.step,
                server_id=f.server_id,
                times=f.times,
                error_code=f.error_code,
                message=f.message,
            )
            added["faults"] = added.get("faults", 0) + 1
        uow.commit()
    return added


def wipe(uow_factory: UowFactory) -> None:
    """Delete every record (the schema stays): the admin reset."""
    order = [
        t.events,
        t.client_tokens,
        t.sub_jobs,
        t.jobs,
        t.sim_faults,
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
