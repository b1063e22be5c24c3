"""request statistics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BUCKETS = (
    "le_5ms", "le_10ms", "le_25ms", "le_50ms", "le_100ms", "le_250ms", "le_500ms", "le_1000ms",
    "le_2000ms", "le_5000ms", "le_10000ms", "le_30000ms", "le_inf",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "request_stats",
        sa.Column("workload_id", sa.String(length=24), nullable=False),
        sa.Column("proton_id", sa.String(length=24), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("status_1xx", sa.Integer(), nullable=False),
        sa.Column("status_2xx", sa.Integer(), nullable=False),
        sa.Column("status_3xx", sa.Integer(), nullable=False),
        sa.Column("status_4xx", sa.Integer(), nullable=False),
        sa.Column("status_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _BUCKETS),
        sa.ForeignKeyConstraint(
            ["workload_id"],
            ["workloads.id"],
            name=op.f("fk_request_stats_workload_id_workloads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workload_id", "proton_id", "bucket_start", name=op.f("pk_request_stats")
        ),
    )
    with op.batch_alter_table("request_stats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_stats_workload_bucket", ["workload_id", "bucket_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("request_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_request_stats_workload_bucket")
    op.drop_table("request_stats")
