"""Nova's server actions expressed with ecslite's own services.

``rebuild`` is a reinstall (services/reinstall.py, the same job and guarantees) with Nova's
defaults where they differ from ECS: the server keeps its key pair and user data unless the
request replaces them, another ``imageRef`` changes the OS, a SHUTOFF server ends SHUTOFF, and
``name``/``metadata`` are applied once the rebuild is accepted. ``os-stop``/``os-start`` are
one-server batch power jobs, refused (Nova's 409) when the server is already there.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from ecslite.domain import errors, limits, transitions
from ecslite.domain.clock import Clock
from ecslite.domain.server import VmState
from ecslite.services.lifecycle import accept_reboot
from ecslite.services.power import accept_power_action
from ecslite.services.reinstall import ReinstallCommand, accept_reinstall
from ecslite.store.uow import UowFactory

# "Keep what the server has" and "clear it" differ for user_data (2.57: null clears it).
KEEP = "\x00keep"  # no key pair name can hold NUL


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


def accept_power(
    *, project_id: str, server_id: str, stop: bool, uow_factory: UowFactory, clock: Clock
) -> str:
    """Start a one-server stop or start job; 409 if the server is already in that state."""
    with uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, project_id)
    if server is None:
        raise errors.EcsError(errors.SERVER_NOT_FOUND)
    wanted = VmState.ACTIVE if stop else VmState.STOPPED
    if server.busy or server.vm_state is not wanted:
        action = "stop" if stop else "start"
        raise errors.EcsError(
            errors.BAD_SERVER_STATE,
            f"Cannot '{action}' instance {server_id} while it is in vm_state "
            f"{server.vm_state.value} (task_state {server.task_state or 'none'}).",
        )
    return accept_power_action(
        project_id=project_id,
        server_ids=[server_id],
        stop=stop,
        uow_factory=uow_factory,
        clock=clock,
    )


def accept_nova_reboot(
    *, project_id: str, server_id: str, hard: bool, uow_factory: UowFactory, clock: Clock
) -> str:
    """Start a one-server reboot job (the one ``batch_reboot_servers`` runs); 409 unless the
    server is ACTIVE and idle. Nova also hard-reboots a SHUTOFF server into ACTIVE; ecslite's
    reboot job reboots running guests only (use os-start), as documented in docs/api.md."""
    with uow_factory(write=False) as uow:
        server = uow.servers.get(server_id, project_id)
    if server is None:
        raise errors.EcsError(errors.SERVER_NOT_FOUND)
    if server.busy or server.vm_state is not VmState.ACTIVE:
        raise errors.EcsError(
            errors.BAD_SERVER_STATE,
            f"Cannot 'reboot' instance {server_id} while it is in vm_state "
            f"{server.vm_state.value} (task_state {server.task_state or 'none'}).",
        )
    return accept_reboot(
        project_id=project_id,
        server_ids=[server_id],
        hard=hard,
        uow_factory=uow_factory,
        clock=clock,
    )
