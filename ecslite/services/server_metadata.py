"""A server's metadata written on its own (Nova's ``/servers/{id}/metadata`` routes).

Replace all (``PUT``), merge (``POST``, ``PUT .../metadata/{key}``) or remove one key. The same
limits as a create or rebuild (domain/limits.py: item count, key and value lengths) hold for
the result. As in Nova, metadata changes only on an idle, unlocked server that is ACTIVE or
SHUTOFF (409 otherwise): a rebuild in flight sets the metadata it was given when accepted.
Metadata is not a job's business: it is written at once, no job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ecslite.domain import errors, limits
from ecslite.domain.allowed import AllowedStates
from ecslite.domain.server import VmState
from ecslite.services.command import Command, Ports

WRITABLE = AllowedStates(
    frozenset({VmState.ACTIVE, VmState.STOPPED}),
    refusal="Cannot 'update metadata' instance {id} while it is in vm_state {vm_state} "
    "(task_state {task_state}).",
)
METADATA_ITEM_NOT_FOUND = errors.ErrorSpec("Ecs.0005", 404, "Metadata item was not found.")


@dataclass(frozen=True)
class SetServerMetadata(Command[dict[str, str]]):
    """Replace the server's metadata with ``metadata`` (``replace``), or merge it in; answer
    the server's metadata after the change."""

    project_id: str
    server_id: str
    metadata: Mapping[str, str]
    replace: bool


@dataclass(frozen=True)
class DeleteServerMetadataItem(Command[None]):
    project_id: str
    server_id: str
    key: str


def handle_set(cmd: SetServerMetadata, ports: Ports) -> dict[str, str]:
    given = dict(cmd.metadata)
    limits.check_metadata(given)
    with ports.uow_factory() as uow:
        server = uow.servers.get_for_update(cmd.server_id, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        WRITABLE.check(server)
        result = given if cmd.replace else {**server.metadata, **given}
        limits.check_metadata(result)
        uow.servers.set_attributes(
            server.id, cmd.project_id, {"metadata": result}, updated=ports.clock.iso(millis=False)
        )
        uow.commit()
    return result


def handle_delete(cmd: DeleteServerMetadataItem, ports: Ports) -> None:
    with ports.uow_factory() as uow:
        server = uow.servers.get_for_update(cmd.server_id, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        WRITABLE.check(server)
        if cmd.key not in server.metadata:
            raise errors.EcsError(METADATA_ITEM_NOT_FOUND, f"No key {cmd.key!r}.")
        remaining = {k: v for k, v in server.metadata.items() if k != cmd.key}
        uow.servers.set_attributes(
            server.id,
            cmd.project_id,
            {"metadata": remaining},
            updated=ports.clock.iso(millis=False),
        )
        uow.commit()
