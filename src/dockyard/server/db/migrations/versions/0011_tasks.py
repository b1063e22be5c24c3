"""tasks: a finished task's exit code, declared tasks, replicas that were ever ready

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: no table rebuild, the search triggers stay.
    op.add_column("workloads", sa.Column("exit_code", sa.Integer(), nullable=True))
    op.add_column(
        "protons", sa.Column("task", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "replicas",
        sa.Column("ever_ready", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("replicas") as batch:
        batch.drop_column("ever_ready")
    with op.batch_alter_table("protons") as batch:
        batch.drop_column("task")
    with op.batch_alter_table("workloads") as batch:
        batch.drop_column("exit_code")
