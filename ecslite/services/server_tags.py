"""A server's tags (Nova's ``/servers/{id}/tags`` routes, 2.26+): replace all, add one,
remove one or all. Labels for the user's own filtering; nothing acts on them, so they change
in any state (as in Nova, where only a server being built or deleted refuses them — here a
server is tagged once it exists) and without a job.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.domain.server import Server
from ecslite.domain.server_tags import tag_set
from ecslite.services.command import Command, Ports
from ecslite.store.uow import UnitOfWork

TAG_NOT_FOUND = errors.ErrorSpec("Ecs.0005", 404, "The tag was not found on the server.")


@dataclass(frozen=True)
class ReplaceServerTags(Command[tuple[str, ...]]):
    """Set the server's tags to ``tags`` (empty: remove all); answer them."""

    project_id: str
    server_id: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class AddServerTag(Command[bool]):
    """Add one tag; answer whether it is new (Nova: 201 when created, 204 when it was there)."""

    project_id: str
    server_id: str
    tag: str


@dataclass(frozen=True)
class DeleteServerTag(Command[None]):
    project_id: str
    server_id: str
    tag: str


def _locked_server(uow: UnitOfWork, project_id: str, server_id: str) -> Server:
    server = uow.servers.get_for_update(server_id, project_id)
    if server is None:
        raise errors.EcsError(errors.SERVER_NOT_FOUND)
    return server


def _write(uow: UnitOfWork, server: Server, tags: tuple[str, ...], ports: Ports) -> None:
    uow.servers.set_attributes(
        server.id,
        server.project_id,
        {"tags": list(tags) or None},
        updated=ports.clock.iso(millis=False),
    )
    uow.commit()


def handle_replace(cmd: ReplaceServerTags, ports: Ports) -> tuple[str, ...]:
    tags = tag_set(cmd.tags)
    with ports.uow_factory() as uow:
        server = _locked_server(uow, cmd.project_id, cmd.server_id)
        _write(uow, server, tags, ports)
    return tags


def handle_add(cmd: AddServerTag, ports: Ports) -> bool:
    tag_set((cmd.tag,))
    with ports.uow_factory() as uow:
        server = _locked_server(uow, cmd.project_id, cmd.server_id)
        if cmd.tag in server.tags:
            return False
        _write(uow, server, tag_set((*server.tags, cmd.tag)), ports)
    return True


def handle_delete(cmd: DeleteServerTag, ports: Ports) -> None:
    with ports.uow_factory() as uow:
        server = _locked_server(uow, cmd.project_id, cmd.server_id)
        if cmd.tag not in server.tags:
            raise errors.EcsError(TAG_NOT_FOUND, f"No tag {cmd.tag!r}.")
        _write(uow, server, tuple(t for t in server.tags if t != cmd.tag), ports)
