"""The driver contract: what a hypervisor backend must do for the control plane.

Every method is idempotent: calling it again after it succeeded (for example when a job resumes
after a crash) has no further visible effect. A method that fails raises a ``DriverError``
(one of the typed errors below, each bound to a code of the catalogue in
``ecslite.domain.errors``) and leaves no partial state behind (a half-created disk is removed
before raising).

A hypervisor's rules hold for every driver: a running guest's disks are not changed
(attach/detach raise ``GuestRunning``, Ecs.0100), a guest without a system disk does not start
(``NoSystemDisk``, Ecs.0105).

A driver gets what it needs in its call (the boot config, the guest's size, the image) and never
reads the store; what it is — host-local, a testing fake, ... — it declares as ``Capabilities``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from ecslite.domain import errors
from ecslite.domain.boot import BootConfig
from ecslite.domain.errors import ErrorSpec
from ecslite.domain.flavor import Flavor
from ecslite.domain.host import Capacity
from ecslite.domain.resources import Image
from ecslite.domain.server import Server, Volume


class DriverError(Exception):
    """A backend operation failed: ``code`` becomes the job's error_code, ``message`` its reason.

    The base class is the host's own failure (Ecs.0002); the subclasses name the refusals a
    caller can act on. ``message`` says what happened and never holds a secret.
    """

    spec: ClassVar[ErrorSpec] = errors.SYSTEM_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.spec.code


class HostFailure(DriverError):
    """The host could not do it: a tool missing or failing, a file gone, QEMU not starting."""


class BootNotVerified(DriverError):
    """The guest's boot did not finish cleanly: cloud-init errors, silence, a stop, a timeout."""


class GuestRunning(DriverError):
    """Refused because the guest runs: its disks change, or it is removed, only when stopped."""

    spec = errors.BAD_SERVER_STATE


class GuestNotRunning(DriverError):
    """Refused because the guest is not running (it cannot finish booting)."""

    spec = errors.BAD_SERVER_STATE


class DiskInUse(DriverError):
    """The disk is attached (to this server or another): it is not deleted or attached again."""

    spec = errors.BAD_SERVER_STATE


class NoSystemDisk(DriverError):
    """The guest has no system disk attached, so it cannot boot."""

    spec = errors.NO_SYSTEM_DISK


class ImageUnavailable(DriverError):
    """The image's disk is not on this host, or is damaged."""

    spec = errors.IMAGE_NOT_FOUND


class EncryptionKeyError(DriverError):
    """An encrypted disk's data key cannot be made or opened (no KMS, no CMK, refused)."""

    spec = errors.BAD_ENCRYPTION_KEY


@dataclass(frozen=True)
class Capabilities:
    """What a driver is, as data the processes around it read (like Nova's ``capabilities``).

    Read instead of a driver's name: adding a driver is one module and one registry entry.
    """

    # Disks and guests live on this host: `serve` reconciles them with the records at start-up
    # (services/provision.py) and runs their jobs; `ecslite worker` refuses the driver.
    host_local: bool
    # A testing driver: injected faults always apply (for other drivers only with --enable-admin).
    testing: bool
    # Guests keep running when the service stops (as a cloud's servers do); `stop_all_guests`
    # powers them off (`serve --stop-guests-on-exit`).
    guests_outlive_service: bool
    # Images need their disk files in this host's image store (`serve --demo` provides one).
    image_files: bool
    # `console_output` returns what the guest printed (otherwise always "").
    console_output: bool
    # Guests have a screen: `remote_console` names a running guest's VNC socket.
    remote_console: bool = False


@dataclass(frozen=True)
class DiskSpec:
    """The system disk to create: same size and type as the one it replaces."""

    volume: Volume
    image: Image
    data_key_wrapped: bytes | None = None


@dataclass(frozen=True)
class GuestSize:
    """The size a guest boots with: its flavor's vCPUs and MiB of RAM.

    A driver may give less (its host's share per guest); ``None`` in its place means the
    flavor is unknown and the driver's own default applies.
    """

    vcpus: int
    memory_mb: int

    @staticmethod
    def of(flavor: Flavor | None) -> GuestSize | None:
        return None if flavor is None else GuestSize(vcpus=flavor.vcpus, memory_mb=flavor.ram_mb)


@dataclass(frozen=True)
class GuestCredentials:
    """Login credentials written into a guest's disk or set through its agent.

    The password is a crypt(3) hash: a driver never sees the plaintext.
    """

    user: str
    password_hash: str | None = None
    public_keys: tuple[str, ...] = ()


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
    capabilities: ClassVar[Capabilities]

    @staticmethod
    def host_problem() -> str | None:
        """Say what this host lacks for the driver (a tool not installed), or None if nothing."""

    def capacity(self) -> Capacity:
        """What this host offers guests (vCPUs, RAM, disk), recorded on its host record."""

    def stop_server(self, server: Server, *, hard: bool = False) -> None:
        """Power the guest off. Post: the guest is not running (succeeds if already off).

        Soft by default (ACPI power button, then forced after a timeout); ``hard`` powers off
        at once, for a guest whose disk is about to be discarded.
        """

    def start_server(
        self, server: Server, boot_config: BootConfig | None, *, size: GuestSize | None
    ) -> None:
        """Boot the guest from its attached disks. Post: running (succeeds if already on).

        ``boot_config`` is written as the seed when the guest has none yet (None: the
        baseline, as ``write_seed``); ``size`` is the flavor's (None: flavor unknown).
        """

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

    def write_seed(self, server: Server, boot_config: BootConfig | None) -> None:
        """Write the next-boot cloud-init data. Post: the next boot applies ``boot_config``.

        None writes the server's baseline data instead (its own id as the instance-id, no
        keys, no user data), as a cloud's metadata service always answers.
        """

    def verify_boot(self, server: Server, *, timeout: float | None = None) -> None:
        """Wait until the guest's cloud-init finished the boot begun by the last start.

        Post: cloud-init reported it finished, without errors, for that boot (not an earlier
        one). Raises DriverError with a reason a user can act on when it reports errors, the
        guest stops first, or ``timeout`` seconds (driver default when None) pass.
        """

    def verify_login_prompt(self, server: Server, *, timeout: float | None = None) -> None:
        """Wait until a guest without cloud-init shows its login prompt on the serial console.

        Post: the boot begun by the last start printed a ``login:`` prompt. Raises
        DriverError when the guest stops first or ``timeout`` seconds (driver default) pass.
        """

    def inject_credentials(self, volume: Volume, credentials: GuestCredentials) -> None:
        """Write ``credentials`` into the filesystem of a system disk no guest is running.

        Post: the disk's ``credentials.user`` has that password hash (when given) and those
        public keys in its ``authorized_keys`` (when given); idempotent.
        """

    def set_password(self, server: Server, credentials: GuestCredentials) -> None:
        """Set a running guest's password through its guest agent.

        Raises ``GuestNotRunning`` when the guest is off, DriverError when the agent does not
        answer (not installed or not started).
        """

    def remote_console(self, server_id: str) -> Path | None:
        """The unix socket of the running guest's VNC server, or None (no guest, no screen)."""

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

    def stop_all_guests(self, *, timeout: float) -> list[str]:
        """Power off every guest this driver runs (soft, forced after ``timeout`` s); return ids.

        Post: no guest of this driver runs. For a driver whose guests outlive the service
        (``capabilities.guests_outlive_service``) this is how they are stopped with it.
        """

    def close(self) -> None:
        """Stop waiting (delays, guest boots) so the process can exit; guests keep running."""
