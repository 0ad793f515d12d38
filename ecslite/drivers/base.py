"""The driver contract: what a hypervisor backend must do for the control plane.

Every method is idempotent: calling it again after it succeeded (for example when a job resumes
after a crash) has no further visible effect. A method that fails raises ``DriverError`` and
leaves no partial state behind (a half-created disk is removed before raising).

A hypervisor's rules hold for every driver: a running guest's disks are not changed
(attach/detach raise Ecs.0100), a guest without a system disk does not start (Ecs.0105).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume


class DriverError(Exception):
    """A backend operation failed; ``code`` is reported as the job's ``error_code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DiskSpec:
    """The system disk to create: same size and type as the one it replaces."""

    volume: Volume
    image: Image
    data_key_wrapped: bytes | None = None


@dataclass(frozen=True)
class GuestNetwork:
    """How a guest is reached: its fixed IP inside its network and the host's SSH forward."""

    fixed_ip: str
    mac: str
    ssh_host: str
    ssh_port: int

    @property
    def ssh_forward(self) -> str:
        return f"{self.ssh_host}:{self.ssh_port}"


class Driver(Protocol):
    name: str

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        """Power the guest off. Post: the guest is not running (succeeds if already off).

        Soft by default (ACPI power button, then forced after a timeout); ``hard`` powers off
        at once, for a guest whose disk is about to be discarded.
        """

    def start_server(self, server: Server, boot_config: dict[str, Any] | None) -> None:
        """Boot the guest from its attached disks. Post: running (succeeds if already on)."""

    def create_disk_from_image(self, spec: DiskSpec) -> None:
        """Create ``spec.volume`` from the image. Post: the disk exists; if it existed, unchanged."""

    def delete_disk(self, volume: Volume) -> None:
        """Remove the disk's backing storage. Post: gone (succeeds if already gone)."""

    def attach_disk(
        self, server: Server, volume: Volume, *, device: str, boot_index: int | None
    ) -> None:
        """Attach ``volume`` to ``server``. Post: attached at ``device`` (no-op if already)."""

    def detach_disk(self, server: Server, volume: Volume) -> None:
        """Detach ``volume`` from ``server``. Post: not attached (no-op if already detached)."""

    def write_seed(self, server: Server, boot_config: dict[str, Any]) -> None:
        """Write the next-boot cloud-init data. Post: the next boot applies ``boot_config``.

        An empty ``boot_config`` writes the server's baseline data instead (its own id as the
        instance-id, no keys, no user data), as a cloud's metadata service always answers.
        """

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        """Wait until the guest's cloud-init finished the boot begun by the last start.

        Post: cloud-init reported it finished, without errors, for that boot (not an earlier
        one). Raises DriverError with a reason a user can act on when it reports errors, the
        guest stops first, or ``timeout`` seconds (driver default when None) pass.
        """

    def console_output(self, server: Server, length: int | None) -> str:
        """Return the last ``length`` lines the guest printed (all recent output when None)."""

    def guest_network(self, server_id: str) -> GuestNetwork | None:
        """Return how the server's guest is reached, or None when it has no network (yet)."""

    def ensure_volume(self, volume: Volume, image: Image | None) -> None:
        """Give an existing volume record its backing storage (from ``image`` if a system disk).

        Post: the disk exists; an existing disk is left unchanged.
        """

    def stray_disks(self, known_volume_ids: set[str]) -> list[Path]:
        """Backing storage that no volume record names (reported at start-up, never deleted)."""

    def release_server(self, server: Server) -> None:
        """Forget everything kept for a server that is being removed; idempotent.

        Pre: the guest is stopped and no disk is attached (else DriverError, nothing changed).
        Post: nothing of the server is left on the host but its volumes' own storage.
        """

    def close(self) -> None:
        """Stop waiting (delays, guest boots) so the process can exit; guests keep running."""
