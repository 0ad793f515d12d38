"""unscoped tokens, uploaded images

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:40:00

An unscoped token (Keystone password login without a scope) names no project. An image
uploaded through Glance records what was checked of its file: size, MD5 (``checksum``), SHA-512
(``os_hash_value``), the disk format read from the file's header, its tags and free-form
properties, and when it was created and last changed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_tokens") as batch:
        batch.alter_column("project_id", existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("min_ram_mb", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("checksum", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("os_hash_value", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("disk_format", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("properties", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("created_at", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        for name in (
            "updated_at",
            "created_at",
            "properties",
            "tags",
            "disk_format",
            "os_hash_value",
            "checksum",
            "size",
            "min_ram_mb",
        ):
            batch.drop_column(name)
    op.execute("DELETE FROM auth_tokens WHERE project_id IS NULL")
    with op.batch_alter_table("auth_tokens") as batch:
        batch.alter_column("project_id", existing_type=sa.String(length=64), nullable=False)
