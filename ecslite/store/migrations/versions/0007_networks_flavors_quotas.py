"""networks, flavors, quotas

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flavors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("ram_mb", sa.Integer(), nullable=False),
        sa.Column("disk_gb", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vpcs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vpcs_project_id", "vpcs", ["project_id"], unique=False)
    op.create_table(
        "subnets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("vpc_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["vpc_id"], ["vpcs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subnets_project_id", "subnets", ["project_id"], unique=False)
    op.create_table(
        "ports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("subnet_id", sa.String(length=64), nullable=False),
        sa.Column("vpc_id", sa.String(length=64), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subnet_id", "ip_address"),
    )
    op.create_index("ix_ports_server_id", "ports", ["server_id"], unique=False)
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quotas", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("quotas")
    op.drop_index("ix_ports_server_id", table_name="ports")
    op.drop_table("ports")
    op.drop_index("ix_subnets_project_id", table_name="subnets")
    op.drop_table("subnets")
    op.drop_index("ix_vpcs_project_id", table_name="vpcs")
    op.drop_table("vpcs")
    op.drop_table("flavors")
