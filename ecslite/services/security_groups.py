"""Nova's ``addSecurityGroup``/``removeSecurityGroup`` server actions on a cloud without Neutron.

The one security group there is, in every project, is ``default``; a server is in it or not
(its ``default_security_group``). No rule is enforced by it: ecslite filters no traffic, so
membership is what the API shows (``security_groups`` in Nova's server), nothing more. As in
Nova, which hands the change to Neutron's ports: no state or lock is checked, adding a group
the server is in changes nothing, and an unknown group or removing one the server is not in
is 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ecslite.domain import errors
from ecslite.services.command import Command, Ports

DEFAULT_GROUP = "default"


def default_group_id(project_id: str) -> str:
    """The id ECS shows for a project's ``default`` group (ECS names a group by id and name;
    Nova by name only): derived, so every view and process gives the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ecslite:security-group/{project_id}/default"))


def _not_found(message: str) -> errors.EcsError:
    return errors.EcsError(errors.ErrorSpec("Ecs.0005", 404, message))


@dataclass(frozen=True)
class SetSecurityGroup(Command[None]):
    """Put the server in the group named ``name`` (``member``) or take it out."""

    project_id: str
    server_id: str
    name: str
    member: bool


def handle_set(cmd: SetSecurityGroup, ports: Ports) -> None:
    if not cmd.name.strip():
        raise errors.EcsError(errors.INVALID_PARAMETER, "Security group name cannot be empty")
    with ports.uow_factory() as uow:
        server = uow.servers.get_for_update(cmd.server_id, cmd.project_id)
        if server is None:
            raise errors.EcsError(errors.SERVER_NOT_FOUND)
        if cmd.name != DEFAULT_GROUP:
            raise _not_found(f"Security group {cmd.name} is not found for project {cmd.project_id}")
        if not cmd.member and not server.default_security_group:
            raise _not_found(
                f"Security group {cmd.name} not associated with the instance {server.id}"
            )
        if server.default_security_group != cmd.member:
            uow.servers.set_attributes(
                server.id,
                server.project_id,
                {"default_security_group": cmd.member},
                updated=ports.clock.iso(millis=False),
            )
            uow.commit()
