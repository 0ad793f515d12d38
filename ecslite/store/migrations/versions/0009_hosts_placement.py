"""hosts, allocations, volumes.host_id, jobs.parent_id

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("driver", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("availability_zone", sa.String(length=64), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("ram_mb", sa.Integer(), nullable=False),
        sa.Column("disk_gb", sa.Integer(), nullable=False),
        sa.Column("cpu_ratio", sa.Float(), nullable=False),
        sa.Column("ram_ratio", sa.Float(), nullable=False),
        sa.Column("disk_ratio", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("heartbeat", sa.Float(), nullable=True),
        sa.Column("down_after", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "allocations",
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("ram_mb", sa.Integer(), nullable=False),
        sa.Column("disk_gb", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("server_id"),
    )
    op.create_index("ix_allocations_host_id", "allocations", ["host_id"])
    with op.batch_alter_table("volumes") as batch_op:
        batch_op.add_column(
            sa.Column("host_id", sa.String(length=64), nullable=False, server_default="local")
        )
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_jobs_parent_id", ["parent_id"])
    # The region's zone names replace the one zone "az1" (the demo region eu-de's first).
    op.execute("UPDATE servers SET availability_zone = 'eu-de-01' WHERE availability_zone = 'az1'")
    # A volume lives where its server does; detached ones stay on the default host.
    op.execute(
        "UPDATE volumes SET host_id = (SELECT servers.host_id FROM servers "
        "WHERE servers.id = volumes.server_id) WHERE server_id IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM servers WHERE servers.id = volumes.server_id)"
    )
    # Existing servers hold their flavor and their attached disks on their host.
    op.execute(
        "INSERT INTO allocations (server_id, host_id, vcpus, ram_mb, disk_gb) "
        "SELECT s.id, s.host_id, COALESCE(f.vcpus, 1), COALESCE(f.ram_mb, 1024), "
        "COALESCE((SELECT SUM(v.size_gb) FROM volumes v WHERE v.server_id = s.id), 0) "
        "FROM servers s LEFT JOIN flavors f ON f.id = s.flavor_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_parent_id")
        batch_op.drop_column("parent_id")
    with op.batch_alter_table("volumes") as batch_op:
        batch_op.drop_column("host_id")
    op.drop_index("ix_allocations_host_id", table_name="allocations")
    op.drop_table("allocations")
    op.drop_table("hosts")
