"""images.password_agent: the image ships a guest agent that sets passwords

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(
            sa.Column("password_agent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("password_agent")
