"""The operations facade: the one way any front door changes something.

``Operations.submit(command)`` finds the command's handler in ``HANDLERS`` (one line per
operation), runs it — validation, secrets, the rules that need the store, the job written in
one transaction — and wakes this process's runner when a job was accepted, so no door has to
remember to. Adding an operation is a command class and a handler in its own module, plus one
line here (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from ecslite.services import (
    cancel,
    create,
    images,
    keypairs,
    lifecycle,
    nova,
    password,
    power,
    reinstall,
    security_groups,
    server_metadata,
    server_tags,
    volumes,
)
from ecslite.services.command import Command, JobAccepted, Ports

R = TypeVar("R")

HANDLERS: Mapping[type[Any], Callable[[Any, Ports], Any]] = {
    reinstall.ReinstallServer: reinstall.handle,
    nova.RebuildServer: nova.handle,
    nova.UpdateServer: nova.handle_update,
    nova.LockServer: nova.handle_lock,
    create.CreateServers: create.handle,
    lifecycle.DeleteServers: lifecycle.handle_delete,
    lifecycle.RebootServers: lifecycle.handle_reboot,
    power.PowerServers: power.handle,
    volumes.DeleteVolume: volumes.handle_delete,
    keypairs.CreateKeypair: keypairs.handle_create,
    keypairs.DeleteKeypair: keypairs.handle_delete,
    password.ResetPasswords: password.handle,
    images.CreateImage: images.handle_create,
    images.UpdateImage: images.handle_update,
    images.DeleteImage: images.handle_delete,
    images.StartUpload: images.handle_start_upload,
    images.FinishUpload: images.handle_finish_upload,
    images.AbortUpload: images.handle_abort_upload,
    cancel.CancelJob: cancel.handle_cancel,
    cancel.CancelAnyJob: cancel.handle_cancel_any,
    cancel.DeleteServerAnyState: cancel.handle_delete_any_state,
    server_metadata.SetServerMetadata: server_metadata.handle_set,
    server_metadata.DeleteServerMetadataItem: server_metadata.handle_delete,
    server_tags.ReplaceServerTags: server_tags.handle_replace,
    server_tags.AddServerTag: server_tags.handle_add,
    server_tags.DeleteServerTag: server_tags.handle_delete,
    security_groups.SetSecurityGroup: security_groups.handle_set,
}


class Operations:
    def __init__(self, ports: Ports, *, wake: Callable[[], None]) -> None:
        self._ports = ports
        self._wake = wake

    def submit(self, command: Command[R]) -> R:
        """Validate and accept ``command``; raise ``EcsError`` and change nothing to refuse it."""
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"No operation handles {type(command).__name__}")
        result = handler(command, self._ports)
        if isinstance(result, JobAccepted):
            self._wake()
        return cast(R, result)
