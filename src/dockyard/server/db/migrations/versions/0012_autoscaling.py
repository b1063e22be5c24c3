"""autoscaling: each group's scaled count, draining replicas, and every server's invoke load

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("protons", sa.Column("scale", sa.JSON(), nullable=True))
    op.add_column(
        "replicas", sa.Column("draining_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "invoke_load",
        sa.Column("server_id", sa.String(length=32), nullable=False),
        sa.Column("workload_id", sa.String(length=24), nullable=False),
        sa.Column("replicas", sa.JSON(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("server_id", "workload_id", name=op.f("pk_invoke_load")),
    )
    op.create_index("ix_invoke_load_workload_id", "invoke_load", ["workload_id"])


def downgrade() -> None:
    op.drop_index("ix_invoke_load_workload_id", table_name="invoke_load")
    op.drop_table("invoke_load")
    with op.batch_alter_table("replicas") as batch:
        batch.drop_column("draining_since")
    with op.batch_alter_table("protons") as batch:
        batch.drop_column("scale")
