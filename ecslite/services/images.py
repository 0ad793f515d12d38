"""Glance image writes: create a queued image, upload its file, change it, delete it.

An image is ``queued`` when created, ``saving`` while its file arrives, ``active`` once the
file is in the image store. An upload moves ``queued`` → ``saving`` with a compare-and-swap
(of two uploads at once, one is refused 409) and ends either ``active`` — the file checked,
hashed, inside the size and quota bounds, and in the image store where the qemu driver reads
base disks — or back at ``queued`` with nothing left on disk: an upload cut off half-way, too
large, or whose bytes are not the declared ``disk_format`` never makes an image ``active``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ecslite.domain import errors
from ecslite.domain.limits import MAX_IMAGE_META
from ecslite.domain.resources import Image
from ecslite.images.upload import ImageDataError, ImageTooLarge, Staging, as_qcow2
from ecslite.services.command import Command, Ports

DISK_FORMATS = frozenset({"qcow2", "raw"})
CONTAINER_FORMATS = frozenset({"bare"})
# Glance's attributes a caller may never set: they describe the stored file or the record.
READ_ONLY = frozenset(
    {
        "id",
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "owner",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "os_hidden",
        "stores",
    }
)
_KNOWN = frozenset(
    {
        "name",
        "disk_format",
        "container_format",
        "visibility",
        "protected",
        "min_disk",
        "min_ram",
        "tags",
    }
)
_PROPERTY = re.compile(r"^[A-Za-z0-9_:.\-]{1,255}$")
MAX_TAGS = 128
MAX_PROPERTIES = MAX_IMAGE_META


@dataclass(frozen=True)
class CreateImage(Command[Image]):
    """``POST /v2/images``: attributes as sent; ``properties`` are the free-form ones."""

    project_id: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class ImageChange:
    """One JSON-patch operation: ``op`` add/replace/remove on ``name`` (an attribute, a
    property, or ``tags``)."""

    op: str
    name: str
    value: Any = None


@dataclass(frozen=True)
class UpdateImage(Command[Image]):
    project_id: str
    image_id: str
    changes: tuple[ImageChange, ...]


@dataclass(frozen=True)
class DeleteImage(Command[None]):
    project_id: str
    image_id: str


class Upload:
    """An accepted upload: the door ``write``s the body's chunks as they arrive, then submits
    ``FinishUpload`` (or ``AbortUpload`` when the body broke off)."""

    def __init__(self, image: Image, staging: Staging) -> None:
        self.image = image
        self._staging = staging

    def write(self, chunk: bytes) -> None:
        try:
            self._staging.write(chunk)
        except ImageTooLarge:
            raise errors.EcsError(errors.IMAGE_TOO_LARGE) from None


@dataclass(frozen=True)
class StartUpload(Command[Upload]):
    project_id: str
    image_id: str
    declared_size: int | None = None


@dataclass(frozen=True)
class FinishUpload(Command[Image]):
    project_id: str
    upload: Upload = field(repr=False)


@dataclass(frozen=True)
class AbortUpload(Command[None]):
    project_id: str
    upload: Upload = field(repr=False)


# --- validation -------------------------------------------------------------------------------


def _bad(message: str) -> errors.EcsError:
    return errors.EcsError(errors.INVALID_PARAMETER, message)


def _non_negative(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{name} must be a non-negative integer.")
    return value


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(t, str) and 0 < len(t) <= 255 for t in value
    ):
        raise _bad("tags must be a list of strings of 1-255 characters.")
    if len(set(value)) > MAX_TAGS:
        raise errors.EcsError(errors.IMAGE_TOO_LARGE, f"At most {MAX_TAGS} tags.")
    return tuple(dict.fromkeys(value))


def _apply(image: Image, name: str, value: Any, *, queued: bool) -> Image:
    """``image`` with attribute or property ``name`` set to ``value`` (None removes a
    property); every rule of a field in one place, for create and patch alike."""
    if name in READ_ONLY:
        raise errors.EcsError(errors.IMAGE_READ_ONLY, f"Attribute '{name}' is read-only.")
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise _bad("name must be a string of at most 255 characters.")
        return replace(image, name=value or "")
    if name in ("disk_format", "container_format"):
        allowed = DISK_FORMATS if name == "disk_format" else CONTAINER_FORMATS
        if not queued:
            raise errors.EcsError(errors.IMAGE_READ_ONLY, f"{name} is fixed once data is stored.")
        if value is not None and value not in allowed:
            raise _bad(f"{name} must be one of {', '.join(sorted(allowed))}.")
        if name == "disk_format":
            return replace(image, disk_format=value)
        return image  # only "bare" exists here
    if name == "visibility":
        if value not in ("private", "shared"):
            raise errors.EcsError(
                errors.FORBIDDEN, "Only administrators may publish images (visibility)."
            )
        return image
    if name == "protected":
        if value is not False:
            raise _bad("protected images are not supported; protected must be false.")
        return image
    if name == "min_disk":
        return replace(image, min_disk_gb=_non_negative(name, value))
    if name == "min_ram":
        return replace(image, min_ram_mb=_non_negative(name, value))
    if name == "tags":
        return replace(image, tags=_tags(value))
    return _property(image, name, value)


def _property(image: Image, name: str, value: Any) -> Image:
    if not _PROPERTY.match(name):
        raise _bad(f"Invalid property name {name[:64]!r}.")
    props = dict(image.properties)
    if value is None:
        if name not in props:
            raise errors.EcsError(errors.NOT_FOUND, f"Property {name} does not exist.")
        del props[name]
    else:
        if not isinstance(value, str) or len(value) > 65535:
            raise _bad(f"Property {name} must be a string.")
        props[name] = value
        if len(props) > MAX_PROPERTIES:
            raise errors.EcsError(errors.IMAGE_TOO_LARGE, f"At most {MAX_PROPERTIES} properties.")
    image = replace(image, properties=props)
    # Two properties say how ecslite uses the image: whether cloud-init runs in it, its OS.
    if name == "__support_cloudinit":
        image = replace(image, cloud_init=value is not None and value.lower() == "true")
    if name == "__os_type" and value in ("Linux", "Windows"):
        image = replace(image, os_type=value)
    return image


# --- handlers ---------------------------------------------------------------------------------


def handle_create(cmd: CreateImage, ports: Ports) -> Image:
    attrs = dict(cmd.attributes)
    image_id = attrs.pop("id", None)
    if image_id is None:
        image_id = str(uuid.uuid4())
    else:
        try:
            image_id = str(uuid.UUID(str(image_id)))
        except ValueError:
            raise _bad("id must be a UUID.") from None
    now = ports.clock.iso()
    image = Image(
        id=image_id,
        name="",
        status="queued",
        cloud_init=False,
        os_type="Linux",
        min_disk_gb=0,
        project_id=cmd.project_id,
        created_at=now,
        updated_at=now,
    )
    for name, value in attrs.items():
        if value is None and name not in _KNOWN:
            continue  # a property sent as null is no property
        image = _apply(image, name, value, queued=True)
    with ports.uow_factory() as uow:
        if not uow.catalog.add_image(image):
            raise errors.EcsError(errors.IMAGE_CONFLICT, f"Image ID {image_id} already exists.")
        uow.commit()
    return image


def _own(ports: Ports, project_id: str, image_id: str) -> Image:
    """The project's own image; a public one is 403 (only administrators change those), any
    other (another project's, unknown) 404."""
    with ports.uow_factory(write=False) as uow:
        image = uow.catalog.image(image_id)
    if image is None or image.project_id not in (None, project_id):
        raise errors.EcsError(errors.IMAGE_UNKNOWN, f"No image found with ID {image_id}.")
    if image.project_id is None:
        raise errors.EcsError(errors.FORBIDDEN, "Public images may only be changed by admins.")
    return image


def handle_update(cmd: UpdateImage, ports: Ports) -> Image:
    image = _own(ports, cmd.project_id, cmd.image_id)
    before = image.status
    for change in cmd.changes:
        if change.op not in ("add", "replace", "remove"):
            raise _bad(f"Unsupported patch operation {change.op!r}.")
        if change.name in READ_ONLY:
            raise errors.EcsError(
                errors.IMAGE_READ_ONLY, f"Attribute '{change.name}' is read-only."
            )
        if change.op == "remove":
            if change.name in _KNOWN - {"tags"}:
                raise errors.EcsError(
                    errors.IMAGE_READ_ONLY, f"Attribute '{change.name}' cannot be removed."
                )
            image = (
                replace(image, tags=())
                if change.name == "tags"
                else _property(image, change.name, None)
            )
        else:
            if (
                change.op == "replace"
                and change.name not in _KNOWN
                and (change.name not in image.properties)
            ):
                raise errors.EcsError(
                    errors.NOT_FOUND, f"Property {change.name[:64]} does not exist."
                )
            image = _apply(image, change.name, change.value, queued=before == "queued")
    image = replace(image, updated_at=ports.clock.iso())
    with ports.uow_factory() as uow:
        if not uow.catalog.save_image(image, expected_status=before):
            raise errors.EcsError(errors.IMAGE_CONFLICT, "The image changed meanwhile; retry.")
        uow.commit()
    return image


def handle_delete(cmd: DeleteImage, ports: Ports) -> None:
    image = _own(ports, cmd.project_id, cmd.image_id)
    with ports.uow_factory() as uow:
        deleted = uow.catalog.delete_image(image.id)
        in_use = uow.catalog.image_in_use(image.id)
        uow.commit()
    if not deleted:
        raise errors.EcsError(errors.IMAGE_UNKNOWN, f"No image found with ID {image.id}.")
    # Disks made from the image are overlays on its file: keep the file while any exists.
    if ports.images is not None and not in_use:
        ports.images.remove(image.id)


def handle_start_upload(cmd: StartUpload, ports: Ports) -> Upload:
    image = _own(ports, cmd.project_id, cmd.image_id)
    if image.status != "queued":
        raise errors.EcsError(
            errors.IMAGE_CONFLICT, f"Image status transition from {image.status} is not allowed."
        )
    if image.disk_format is None:
        raise _bad("Set disk_format and container_format before uploading image data.")
    if ports.images is None:
        raise errors.EcsError(errors.FORBIDDEN, "This process keeps no image files.")
    limits = ports.image_limits
    with ports.uow_factory() as uow:
        room = limits.project_image_bytes - uow.catalog.image_bytes(cmd.project_id)
        if cmd.declared_size is not None:
            if cmd.declared_size > limits.max_image_bytes:
                raise errors.EcsError(errors.IMAGE_TOO_LARGE)
            if cmd.declared_size > room:
                raise errors.EcsError(errors.IMAGE_QUOTA)
        saving = replace(image, status="saving", updated_at=ports.clock.iso())
        if not uow.catalog.save_image(saving, expected_status="queued"):
            raise errors.EcsError(errors.IMAGE_CONFLICT, "Another upload of this image runs.")
        uow.commit()
    max_bytes = max(0, min(limits.max_image_bytes, room))
    try:
        staging = Staging(ports.images.root / ".staging", max_bytes=max_bytes)
    except OSError:
        _requeue(ports, saving)
        raise
    return Upload(saving, staging)


def _requeue(ports: Ports, image: Image) -> None:
    with ports.uow_factory() as uow:
        uow.catalog.save_image(
            replace(image, status="queued", updated_at=ports.clock.iso()), expected_status="saving"
        )
        uow.commit()


def handle_abort_upload(cmd: AbortUpload, ports: Ports) -> None:
    cmd.upload._staging.discard()
    _requeue(ports, cmd.upload.image)


def handle_finish_upload(cmd: FinishUpload, ports: Ports) -> Image:
    upload, image = cmd.upload, cmd.upload.image
    staging = upload._staging
    assert ports.images is not None
    converted = None
    try:
        try:
            staged = staging.finish()
        except ImageDataError as exc:
            raise errors.EcsError(errors.IMAGE_BAD_DATA, str(exc)) from None
        if staged.disk_format != image.disk_format:
            raise errors.EcsError(
                errors.IMAGE_BAD_DATA,
                f"The data is {staged.disk_format}, not the declared {image.disk_format}.",
            )
        try:
            converted = as_qcow2(staged)
        except (OSError, subprocess.CalledProcessError):
            raise errors.EcsError(
                errors.IMAGE_BAD_DATA, "The raw image could not be converted to qcow2."
            ) from None
        if converted is not None:
            converted.chmod(0o444)
            ports.images.add(image.id, name=image.name, disk=converted, cloud_init=image.cloud_init)
        done = replace(
            image,
            status="active",
            size=staged.size,
            checksum=staged.md5,
            os_hash_value=staged.sha512,
            properties={**image.properties, "virtual_size": str(staged.virtual_size)},
            updated_at=ports.clock.iso(),
        )
        with ports.uow_factory() as uow:
            # Re-checked with the size known: concurrent uploads may have used the room.
            used = uow.catalog.image_bytes(cmd.project_id)
            if used + staged.size > ports.image_limits.project_image_bytes:
                raise errors.EcsError(errors.IMAGE_QUOTA)
            if not uow.catalog.save_image(done, expected_status="saving"):
                raise errors.EcsError(errors.IMAGE_CONFLICT, "The image was deleted meanwhile.")
            uow.commit()
    except BaseException:
        with contextlib.suppress(OSError, ValueError):
            ports.images.remove(image.id)
        _requeue(ports, image)
        raise
    finally:
        staging.discard()
        if converted is not None and converted != staging.path:
            converted.unlink(missing_ok=True)
    return done
