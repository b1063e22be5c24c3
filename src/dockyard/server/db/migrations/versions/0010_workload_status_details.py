"""workloads: why a workload is errored (statusDetails.reason and .message)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: no table rebuild, the search triggers stay.
    op.add_column("workloads", sa.Column("status_reason", sa.String(length=64), nullable=True))
    op.add_column("workloads", sa.Column("status_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workloads") as batch:
        batch.drop_column("status_message")
        batch.drop_column("status_reason")
