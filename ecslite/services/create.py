"""Accept a create-servers request: check every rule, then record the servers, their fixed IPs
and the job in one transaction. A refused request changes nothing.

The job (jobs/create.py) makes the disks, writes the cloud-init seed and boots each server.
Order of checks: image, flavor, network, key pair, quota, addresses — so a request that is
wrong in several ways reports the first of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy.exc import IntegrityError

from ecslite.cloudinit.payload import build_boot_config, hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain import create as rules
from ecslite.domain import errors, limits
from ecslite.domain.clock import Clock, new_job_id, new_uuid
from ecslite.domain.codec import decode, encode
from ecslite.domain.host import Capacity
from ecslite.domain.job import Job, JobStatus, JobType, SubJob
from ecslite.domain.network import Port, Subnet, free_addresses
from ecslite.domain.quota import Usage, check_quota
from ecslite.domain.reinstall import check_nova_password, check_password, check_user_data_size
from ecslite.domain.server import Server, TaskState, VmState
from ecslite.domain.server_tags import tag_set
from ecslite.jobs.create import CreateParams, DiskPlan, ServerBuild, server_steps
from ecslite.services.accept import JobPlan, accept_job
from ecslite.services.catalog import usage
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.idempotency import ClientToken
from ecslite.services.placement import PlacementPolicy, allocate, place_servers
from ecslite.store.uow import UnitOfWork, UowFactory

ADDRESS_ATTEMPTS = 3


@dataclass(frozen=True)
class NovaOptions:
    """What Nova's ``POST /servers`` asks beyond ECS's create (the door follows Nova there).

    ``networks``: None for "auto" (the project's first subnet, none if it has no network),
    () for "none" (no fixed IP), otherwise network (VPC) or subnet ids. ``count`` is the
    command's ``count`` (Nova's max_count); with too little quota for it, ``min_count`` servers
    are created when that fits. A key pair and a password may be given together.
    """

    networks: tuple[str, ...] | None = None
    min_count: int = 1
    access_ipv4: str | None = None
    access_ipv6: str | None = None
    description: str | None = None
    # Nova's server tags (2.52+ on create), checked as the tag routes check them.
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateServers(Command[JobAccepted]):
    """Create ``count`` servers (ECS ``POST /v1[.1]/{p}/cloudservers``, the console, the CLI).

    ``admin_pass`` is plaintext only until ``prepare`` hashes it; ``user_data`` is raw bytes.
    ``availability_zone`` None (or the legacy ``az1``): any zone placement finds room in.
    """

    project_id: str
    user_id: str
    name: str
    image_id: str
    flavor_id: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    count: int = 1
    root_volume: rules.DiskRequest | None = None
    data_volumes: tuple[rules.DiskRequest, ...] = ()
    key_name: str | None = None
    admin_pass: str | None = field(default=None, repr=False)
    user_data: bytes | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    client_token: ClientToken | None = None
    nova: NovaOptions | None = None


@dataclass(frozen=True)
class PreparedCreate:
    """A create whose own rules held: the request without its plaintext password, and the
    password's SHA-512 crypt hash (the plaintext stops in ``prepare``)."""

    request: CreateServers
    password_hash: str | None


def prepare(cmd: CreateServers) -> PreparedCreate:
    """The request's own rules, the password reduced to its hash: once, for every door."""
    if cmd.user_data is not None:
        check_user_data_size(cmd.user_data)
        check_user_data(cmd.user_data)
    if cmd.admin_pass is not None:
        # Nova's door keeps Nova's rule (any usable password); every other door the ECS rule.
        (check_password if cmd.nova is None else check_nova_password)(cmd.admin_pass)
    nova = replace(cmd.nova, tags=tag_set(cmd.nova.tags)) if cmd.nova is not None else None
    return PreparedCreate(
        request=replace(cmd, admin_pass=None, nova=nova),
        password_hash=hash_password(cmd.admin_pass) if cmd.admin_pass is not None else None,
    )


_QUOTA_ERRORS = (errors.ECS_QUOTA, errors.VOLUME_QUOTA)


def handle(cmd: CreateServers, ports: Ports) -> JobAccepted:
    prepared = prepare(cmd)
    try:
        accepted = accept_create(
            prepared, uow_factory=ports.uow_factory, clock=ports.clock, policy=ports.placement
        )
    except errors.EcsError as exc:
        # Nova creates min_count servers when the quota does not allow max_count.
        nova = cmd.nova
        if nova is None or exc.spec not in _QUOTA_ERRORS or nova.min_count >= cmd.count:
            raise
        fewer = replace(prepared, request=replace(prepared.request, count=nova.min_count))
        accepted = accept_create(
            fewer, uow_factory=ports.uow_factory, clock=ports.clock, policy=ports.placement
        )
    return JobAccepted(accepted.job_id, tuple(accepted.server_ids))


@dataclass(frozen=True)
class CreateAccepted:
    job_id: str
    server_ids: list[str]


def accept_create(
    prepared: PreparedCreate,
    *,
    uow_factory: UowFactory,
    clock: Clock,
    policy: PlacementPolicy | None = None,
) -> CreateAccepted:
    """Return the job and the ids of the servers it creates."""
    cmd, password_hash = prepared.request, prepared.password_hash
    nova_names = cmd.nova is not None
    names = (rules.nova_server_names if nova_names else rules.server_names)(cmd.name, cmd.count)
    limits.check_metadata(cmd.metadata)
    data = rules.data_disks(list(cmd.data_volumes))
    if cmd.nova is None:
        rules.check_login(adminpass_given=password_hash is not None, key_name=cmd.key_name)
    if not cmd.subnet_ids and cmd.nova is None:
        raise errors.EcsError(errors.INVALID_PARAMETER, "nics must name at least one subnet.")
    job_id = _accept_retrying(
        cmd, password_hash, names, data, uow_factory, clock, policy or PlacementPolicy()
    )
    with uow_factory(write=False) as uow:
        job = uow.jobs.get(job_id)
    assert job is not None
    params = decode(CreateParams, job.params)
    return CreateAccepted(job_id=job_id, server_ids=[sid for sid, _ in params.servers])


def _accept_retrying(
    cmd: CreateServers,
    password_hash: str | None,
    names: list[str],
    data: list[rules.Disk],
    uow_factory: UowFactory,
    clock: Clock,
    policy: PlacementPolicy,
) -> str:
    # Allocation locks the subnet (PostgreSQL), so two creates cannot pick the same address;
    # should one still collide (the unique subnet+address index), it picks again.
    def accept() -> str:
        return accept_job(
            project_id=cmd.project_id,
            client_token=cmd.client_token,
            uow_factory=uow_factory,
            clock=clock,
            plan=lambda uow, job_id: _plan(
                uow, job_id, cmd, password_hash, names, data, clock, policy
            ),
        )

    for _ in range(ADDRESS_ATTEMPTS - 1):
        try:
            return accept()
        except IntegrityError:
            continue
    return accept()


def _public_key(uow: UnitOfWork, cmd: CreateServers) -> str | None:
    if cmd.key_name is None:
        return None
    keypair = uow.catalog.keypair(cmd.user_id, cmd.key_name)
    if keypair is None:
        raise errors.EcsError(errors.KEYPAIR_NOT_FOUND)
    return keypair.public_key


def _subnets(uow: UnitOfWork, cmd: CreateServers) -> list[Subnet]:
    if uow.networks.vpc(cmd.vpc_id, cmd.project_id) is None:
        raise errors.EcsError(errors.BAD_NETWORK, f"The VPC {cmd.vpc_id} does not exist.")
    subnets = []
    for sid in cmd.subnet_ids:
        subnet = uow.networks.subnet(sid, cmd.project_id)
        if subnet is None:
            raise errors.EcsError(errors.SUBNET_NOT_FOUND, f"subnet_id {sid}.")
        if subnet.vpc_id != cmd.vpc_id:
            raise errors.EcsError(errors.VPC_SUBNET_MISMATCH)
        subnets.append(subnet)
    return subnets


def _nova_subnets(uow: UnitOfWork, cmd: CreateServers, nova: NovaOptions) -> list[Subnet]:
    """Nova's ``networks``: each id a subnet, or a network (VPC) standing for its first subnet."""
    project_subnets = sorted(uow.networks.subnets(cmd.project_id), key=lambda s: s.id)
    if nova.networks is None:
        return project_subnets[:1]
    out: list[Subnet] = []
    for ref in nova.networks:
        subnet = uow.networks.subnet(ref, cmd.project_id)
        if subnet is None and uow.networks.vpc(ref, cmd.project_id) is not None:
            subnet = next((s for s in project_subnets if s.vpc_id == ref), None)
        if subnet is None:
            raise errors.EcsError(errors.BAD_NETWORK, f"Network {ref} could not be found.")
        if subnet in out:
            raise errors.EcsError(errors.INVALID_PARAMETER, f"Network {ref} is given twice.")
        out.append(subnet)
    return out


def _plan(
    uow: UnitOfWork,
    job_id: str,
    cmd: CreateServers,
    password_hash: str | None,
    names: list[str],
    data: list[rules.Disk],
    clock: Clock,
    policy: PlacementPolicy,
) -> JobPlan:
    """Check every rule, insert the servers (BUILD, owned by the job) and their ports.

    New servers need no claim: they are inserted already owned by ``job_id``.
    """
    image = uow.catalog.image(cmd.image_id)
    if image is None or image.project_id not in (None, cmd.project_id):
        raise errors.EcsError(errors.IMAGE_NOT_FOUND)
    if not image.active:
        raise errors.EcsError(errors.IMAGE_NOT_ACTIVE)
    if not image.cloud_init and (cmd.key_name or password_hash or cmd.user_data):
        raise errors.EcsError(
            errors.INVALID_IMAGE,
            "The image has no Cloud-Init: it cannot apply a key pair, password or user_data.",
        )
    system = rules.system_disk(cmd.root_volume, min_disk_gb=image.min_disk_gb)
    flavor = uow.flavors.get(cmd.flavor_id)
    if flavor is None:
        raise errors.EcsError(errors.FLAVOR_NOT_FOUND, f"flavorRef {cmd.flavor_id!r}.")
    if flavor.ram_mb < image.min_ram_mb:
        # The image says it needs more memory than the flavor gives (Nova refuses it too).
        raise errors.EcsError(
            errors.INVALID_PARAMETER,
            f"The flavor's memory ({flavor.ram_mb} MB) is below the image's min_ram "
            f"({image.min_ram_mb} MB).",
        )
    subnets = _subnets(uow, cmd) if cmd.nova is None else _nova_subnets(uow, cmd, cmd.nova)
    public_key = _public_key(uow, cmd)
    n = len(names)
    uow.quotas.lock_usage(cmd.project_id)
    check_quota(
        uow.quotas.quotas(cmd.project_id),
        usage(uow, cmd.project_id),
        Usage(
            instances=n,
            cores=flavor.vcpus * n,
            ram_mb=flavor.ram_mb * n,
            volumes=(1 + len(data)) * n,
        ),
    )
    addresses = {}
    for subnet in subnets:
        uow.networks.lock_subnet(subnet.id)
        free = free_addresses(subnet, uow.networks.used_addresses(subnet.id), n)
        if len(free) < n:
            raise errors.EcsError(errors.SUBNET_EXHAUSTED, f"subnet_id {subnet.id}.")
        addresses[subnet.id] = free
    # Placed now, in this transaction: the hosts' rows stay locked until the allocations below
    # commit, so a concurrent create places against them (services/placement.py).
    need = Capacity(
        vcpus=flavor.vcpus,
        ram_mb=flavor.ram_mb,
        disk_gb=system.size_gb + sum(d.size_gb for d in data),
    )
    placed = place_servers(
        uow, policy, now=clock.now(), need=need, count=n, zone=cmd.availability_zone
    )

    now = clock.iso(millis=False)
    servers: list[tuple[str, ServerBuild]] = []
    subs: list[SubJob] = []
    for i, name in enumerate(names):
        sid = new_uuid()
        host_id, zone = placed[i]
        allocate(uow, [(sid, host_id)], need)
        uow.servers.add(
            Server(
                id=sid,
                project_id=cmd.project_id,
                user_id=cmd.user_id,
                name=name,
                image_id=image.id,
                flavor_id=flavor.id,
                availability_zone=zone,
                host_id=host_id,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SPAWNING,
                key_name=cmd.key_name,
                metadata=dict(cmd.metadata),
                current_job_id=job_id,
                created=now,
                updated=now,
                access_ipv4=cmd.nova.access_ipv4 if cmd.nova else None,
                access_ipv6=cmd.nova.access_ipv6 if cmd.nova else None,
                description=cmd.nova.description if cmd.nova else None,
                tags=cmd.nova.tags if cmd.nova else (),
            ),
            boot_config=build_boot_config(
                public_key=public_key,
                key_name=cmd.key_name,
                password_hash=password_hash,
                user_data=cmd.user_data,
                byol=False,
            ),
        )
        for subnet in subnets:
            uow.networks.add_port(
                Port(
                    id=new_uuid(),
                    server_id=sid,
                    subnet_id=subnet.id,
                    vpc_id=subnet.vpc_id,
                    ip_address=addresses[subnet.id][i],
                )
            )
        servers.append(
            (
                sid,
                ServerBuild(
                    system=DiskPlan(new_uuid(), system.size_gb, system.volume_type),
                    data=tuple(
                        DiskPlan(new_uuid(), d.size_gb, d.volume_type, rules.DATA_DEVICES[j])
                        for j, d in enumerate(data)
                    ),
                ),
            )
        )
        for step in server_steps():
            subs.append(
                SubJob(
                    id=new_job_id(),
                    job_id=job_id,
                    seq=len(subs),
                    job_type=step,
                    server_id=sid,
                    status=JobStatus.INIT,
                )
            )
    job = Job(
        id=job_id,
        project_id=cmd.project_id,
        job_type=JobType.CREATE,
        status=JobStatus.INIT,
        server_id=servers[0][0] if n == 1 else None,
        # Bound at acceptance to its servers' host, or split into one part per host.
        host_id=None,
        params=encode(CreateParams(image_id=image.id, servers=tuple(servers))),
        created=clock.iso(),
        sub_jobs=tuple(subs),
    )
    return JobPlan(job, ())
