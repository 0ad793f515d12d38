"""The catalogue a request draws on: projects, images, KMS keys, and users' key pairs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from ecslite.domain.clock import Clock
from ecslite.domain.resources import Image, Keypair, KmsKey, Project
from ecslite.store import tables as t

# Built once (see servers.py): read for every server body the API or the event stream shows.
_IMAGE = select(t.images).where(t.images.c.id == bindparam("id"))


def _image(row: Any) -> Image:
    return Image(
        id=row.id,
        name=row.name,
        status=row.status,
        cloud_init=bool(row.cloud_init),
        os_type=row.os_type,
        min_disk_gb=row.min_disk_gb,
        project_id=row.project_id,
        password_agent=bool(row.password_agent),
        min_ram_mb=row.min_ram_mb or 0,
        size=row.size,
        checksum=row.checksum,
        os_hash_value=row.os_hash_value,
        disk_format=row.disk_format,
        tags=tuple(row.tags or ()),
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _image_values(image: Image) -> dict[str, Any]:
    return {
        "name": image.name,
        "status": image.status,
        "cloud_init": image.cloud_init,
        "os_type": image.os_type,
        "min_disk_gb": image.min_disk_gb,
        "project_id": image.project_id,
        "password_agent": image.password_agent,
        "min_ram_mb": image.min_ram_mb,
        "size": image.size,
        "checksum": image.checksum,
        "os_hash_value": image.os_hash_value,
        "disk_format": image.disk_format,
        "tags": list(image.tags),
        "properties": dict(image.properties),
        "created_at": image.created_at,
        "updated_at": image.updated_at,
    }


def _keypair(row: Any) -> Keypair:
    return Keypair(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        public_key=row.public_key,
        fingerprint=row.fingerprint,
        type=row.type,
        created=row.created,
    )


class CatalogRepo:
    """Projects, images by id, KMS keys and key pairs."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def project(self, project_id: str) -> Project | None:
        row = self._c.execute(select(t.projects).where(t.projects.c.id == project_id)).first()
        return Project(row.id, row.name, row.domain_id, row.region) if row else None

    def add_project(self, project: Project, *, quotas: dict[str, int] | None = None) -> bool:
        """Insert the project (with its quota overrides) unless its id exists; return whether."""
        if self.project(project.id) is not None:
            return False
        self._c.execute(
            insert(t.projects).values(
                id=project.id,
                name=project.name,
                domain_id=project.domain_id,
                region=project.region,
                quotas=quotas,
            )
        )
        return True

    def image(self, image_id: str) -> Image | None:
        row = self._c.execute(_IMAGE, {"id": image_id}).first()
        return _image(row) if row else None

    def add_image(self, image: Image) -> bool:
        """Insert the image unless its id exists; return whether it was inserted."""
        if self.image(image.id) is not None:
            return False
        # Seeded and built images are recorded now; Glance-created ones bring their times.
        now = Clock().iso()
        image = replace(
            image, created_at=image.created_at or now, updated_at=image.updated_at or now
        )
        self._c.execute(insert(t.images).values(id=image.id, **_image_values(image)))
        return True

    def save_image(self, image: Image, *, expected_status: str | None = None) -> bool:
        """Write ``image`` over its row; with ``expected_status``, only if the row still has
        that status (a compare-and-swap: of two uploads of one image, one wins)."""
        q = update(t.images).where(t.images.c.id == image.id)
        if expected_status is not None:
            q = q.where(t.images.c.status == expected_status)
        return self._c.execute(q.values(**_image_values(image))).rowcount == 1

    def delete_image(self, image_id: str) -> bool:
        return self._c.execute(delete(t.images).where(t.images.c.id == image_id)).rowcount == 1

    def image_bytes(self, project_id: str) -> int:
        """What the project's uploaded images take (their recorded sizes)."""
        total = self._c.execute(
            select(func.coalesce(func.sum(t.images.c.size), 0)).where(
                t.images.c.project_id == project_id
            )
        ).scalar_one()
        return int(total)

    def image_in_use(self, image_id: str) -> bool:
        """Whether a server or a volume was made from the image (its file backs their disks)."""
        for table in (t.servers, t.volumes):
            if self._c.execute(
                select(table.c.id).where(table.c.image_id == image_id).limit(1)
            ).first():
                return True
        return False

    def kms_key(self, key_id: str, project_id: str) -> KmsKey | None:
        row = self._c.execute(
            select(t.kms_keys).where(
                t.kms_keys.c.id == key_id, t.kms_keys.c.project_id == project_id
            )
        ).first()
        return KmsKey(row.id, row.project_id, row.alias, row.state) if row else None

    def add_kms_key(self, key: KmsKey) -> bool:
        """Insert the key unless its id exists (in any project); return whether."""
        found = self._c.execute(select(t.kms_keys.c.id).where(t.kms_keys.c.id == key.id)).first()
        if found is not None:
            return False
        self._c.execute(
            insert(t.kms_keys).values(
                id=key.id, project_id=key.project_id, alias=key.alias, state=key.state
            )
        )
        return True

    def kms_keys(self, project_id: str) -> list[KmsKey]:
        rows = self._c.execute(
            select(t.kms_keys)
            .where(t.kms_keys.c.project_id == project_id)
            .order_by(t.kms_keys.c.alias)
        ).all()
        return [KmsKey(r.id, r.project_id, r.alias, r.state) for r in rows]

    def keypair(self, user_id: str, name: str) -> Keypair | None:
        row = self._c.execute(
            select(t.keypairs).where(t.keypairs.c.user_id == user_id, t.keypairs.c.name == name)
        ).first()
        return _keypair(row) if row else None

    def keypairs(self, user_id: str) -> list[Keypair]:
        rows = self._c.execute(
            select(t.keypairs).where(t.keypairs.c.user_id == user_id).order_by(t.keypairs.c.name)
        ).all()
        return [_keypair(r) for r in rows]

    def add_keypair(self, kp: Keypair) -> None:
        self._c.execute(
            insert(t.keypairs).values(
                user_id=kp.user_id,
                name=kp.name,
                public_key=kp.public_key,
                fingerprint=kp.fingerprint,
                type=kp.type,
                created=kp.created,
            )
        )

    def delete_keypair(self, user_id: str, name: str) -> bool:
        res = self._c.execute(
            delete(t.keypairs).where(t.keypairs.c.user_id == user_id, t.keypairs.c.name == name)
        )
        return res.rowcount == 1


class ImageRepo:
    """Images a project may use: public ones and its own."""

    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def visible(self, project_id: str) -> list[Image]:
        """The public images and the project's own, by name then id."""
        c = t.images.c
        rows = self._c.execute(
            select(t.images)
            .where(or_(c.project_id.is_(None), c.project_id == project_id))
            .order_by(c.name, c.id)
        ).all()
        return [_image(r) for r in rows]
