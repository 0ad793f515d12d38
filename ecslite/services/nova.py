"""Nova's server actions expressed with ecslite's own services.

``rebuild`` is a reinstall (services/reinstall.py, the same job and guarantees) with Nova's
defaults where they differ from ECS: the server keeps its key pair and user data unless the
request replaces them, another ``imageRef`` changes the OS, a SHUTOFF server ends SHUTOFF, and
``name``/``metadata`` are applied once the rebuild is accepted. (Nova's ``os-stop``,
``os-start`` and ``reboot`` are the ECS power and reboot commands with Nova's allowed states:
services/power.py, services/lifecycle.py.)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from ecslite.cloudinit.payload import hash_password
from ecslite.cloudinit.validate import check_user_data
from ecslite.domain import errors, limits, transitions
from ecslite.domain.clock import Clock
from ecslite.domain.reinstall import check_nova_password, check_user_data_size
from ecslite.services.command import Command, JobAccepted, Ports
from ecslite.services.reinstall import ReinstallCommand, accept_reinstall
from ecslite.store.uow import UowFactory

# "Keep what the server has" and "clear it" differ for user_data (2.57: null clears it).
KEEP = "\x00keep"  # no key pair name can hold NUL


@dataclass(frozen=True)
class RebuildServer(Command[JobAccepted]):
    """Nova's ``rebuild`` action as the door read it: plaintext ``admin_pass`` until
    ``prepare`` hashes it, user data as raw bytes, ``KEEP`` where the request said nothing."""

    project_id: str
    server_id: str
    user_id: str
    image_id: str
    key_name: str | None = KEEP
    admin_pass: str | None = field(default=None, repr=False)
    user_data: bytes | str | None = KEEP
    name: str | None = None
    metadata: Mapping[str, str] | None = field(default=None)


def prepare(cmd: RebuildServer) -> RebuildCommand:
    """The request's own rules; the password reduced to its hash, once."""
    if isinstance(cmd.user_data, bytes):
        check_user_data_size(cmd.user_data)
        check_user_data(cmd.user_data)
    password_hash = None
    if cmd.admin_pass is not None:
        # Nova's rule, not ECS's: Nova accepts any usable password (docs/api.md).
        check_nova_password(cmd.admin_pass)
        # The plaintext stops here: only the SHA-512 crypt hash travels on.
        password_hash = hash_password(cmd.admin_pass)
    return RebuildCommand(
        project_id=cmd.project_id,
        server_id=cmd.server_id,
        user_id=cmd.user_id,
        image_id=cmd.image_id,
        key_name=cmd.key_name,
        password_hash=password_hash,
        user_data=cmd.user_data,
        name=cmd.name,
        metadata=cmd.metadata,
    )


def handle(cmd: RebuildServer, ports: Ports) -> JobAccepted:
    return JobAccepted(
        accept_rebuild(prepare(cmd), uow_factory=ports.uow_factory, clock=ports.clock)
    )


@dataclass(frozen=True)
class RebuildCommand:
    """A validated Nova rebuild; the password is already a SHA-512 crypt hash."""

    project_id: str
    server_id: str
    user_id: str
    image_id: str
    # A name: use that key pair; None: no key (2.54 null); KEEP: keep the server's.
    key_name: str | None = KEEP
    password_hash: str | None = None
    # bytes: new user data; None: clear it; KEEP: keep the server's.
    user_data: bytes | str | None = KEEP
    name: str | None = None
    metadata: Mapping[str, str] | None = field(default=None)


def accept_rebuild(cmd: RebuildCommand, *, uow_factory: UowFactory, clock: Clock) -> str:
    """Return the id of the reinstall job that performs the rebuild."""
    limits.check_metadata(cmd.metadata)
    with uow_factory(write=False) as uow:
        server = uow.servers.get(cmd.server_id, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        key_name: str | None
        key_owner: str | None
        if cmd.key_name is None:
            key_name = key_owner = None
        elif cmd.key_name != KEEP:
            if uow.catalog.keypair(cmd.user_id, cmd.key_name) is None:
                raise errors.EcsError(errors.INVALID_PARAMETER, "Invalid key_name provided.")
            key_name, key_owner = cmd.key_name, cmd.user_id
        elif server.key_name is not None:
            # Nova keeps the instance's key: the key pair it was last given, owned by the
            # server's user.
            if uow.catalog.keypair(server.user_id, server.key_name) is not None:
                key_name, key_owner = server.key_name, server.user_id
            elif cmd.password_hash is None:
                raise errors.EcsError(
                    errors.INVALID_PARAMETER,
                    f"The server's key pair {server.key_name!r} no longer exists; give "
                    "key_name (2.54+) or adminPass.",
                )
            else:
                key_name = key_owner = None
        else:
            key_name = key_owner = None
        user_data: bytes | None
        if cmd.user_data == KEEP:
            current = uow.servers.boot_config(server.id)
            encoded = current.user_data_b64 if current is not None else None
            user_data = base64.b64decode(encoded) if encoded else None
        else:
            user_data = cmd.user_data if isinstance(cmd.user_data, bytes) else None
    job_id = accept_reinstall(
        ReinstallCommand(
            project_id=cmd.project_id,
            server_id=cmd.server_id,
            keyname=key_name,
            userid=key_owner,
            password_hash=cmd.password_hash,
            user_data=user_data,
            byol=False,
            encryption=None,
            stop_first=True,
            image_id=cmd.image_id,
            keep_power_state=True,
        ),
        uow_factory=uow_factory,
        clock=clock,
    )
    if cmd.name is not None or cmd.metadata is not None:
        change = transitions.described(
            name=cmd.name, metadata=dict(cmd.metadata) if cmd.metadata is not None else None
        )
        with uow_factory() as uow:
            # No ownership check: name and metadata are not the job's business.
            uow.servers.apply(cmd.server_id, change, updated=clock.iso(millis=False))
            uow.commit()
    return job_id


@dataclass(frozen=True)
class UpdateServer(Command[None]):
    """Nova's ``PUT /servers/{id}``: the name, access addresses or description, in any state.

    Only the fields in ``values`` change (``name``, ``access_ipv4``, ``access_ipv6``,
    ``description``; None clears all but the name)."""

    project_id: str
    server_id: str
    values: Mapping[str, str | None]


@dataclass(frozen=True)
class LockServer(Command[None]):
    """Nova's ``lock``/``unlock``: a locked server refuses every operation (409 in Nova's
    envelope, Ecs.0100 in ECS's) until it is unlocked; reads and ``PUT`` still work."""

    project_id: str
    server_id: str
    locked: bool


def handle_lock(cmd: LockServer, ports: Ports) -> None:
    with ports.uow_factory() as uow:
        if not uow.servers.set_attributes(
            cmd.server_id,
            cmd.project_id,
            {"locked": cmd.locked},
            updated=ports.clock.iso(millis=False),
        ):
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        uow.commit()


UPDATABLE = frozenset({"name", "access_ipv4", "access_ipv6", "description"})


def handle_update(cmd: UpdateServer, ports: Ports) -> None:
    unknown = set(cmd.values) - UPDATABLE
    if unknown:
        raise errors.EcsError(errors.INVALID_PARAMETER, f"Cannot update {sorted(unknown)}.")
    name = cmd.values.get("name", "")
    if "name" in cmd.values and (name is None or not name.strip() or len(name) > 255):
        raise errors.EcsError(errors.INVALID_PARAMETER, "name must have 1-255 characters.")
    with ports.uow_factory() as uow:
        if cmd.values and not uow.servers.set_attributes(
            cmd.server_id,
            cmd.project_id,
            {**cmd.values},
            updated=ports.clock.iso(millis=False),
        ):
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        if not cmd.values and uow.servers.get(cmd.server_id, cmd.project_id) is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        uow.commit()
