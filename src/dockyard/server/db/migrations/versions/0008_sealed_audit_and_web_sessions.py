"""sealed audit chains (entry HMACs, the sealed head), web sessions and sign-in codes

Existing audit chains are sealed as they stand: every entry gets the HMAC of its hash and each
deployment the HMAC of its chain's head, under the key the server derives from its secret key
(handed over by `upgrade(..., audit_key=...)`). A chain that was already broken stays broken:
verification still recomputes every hash.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:49:07
"""

import hashlib
import hmac

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "sign_in_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_sign_in_codes_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_sign_in_codes_code_hash")),
    )
    with op.batch_alter_table("sign_in_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_codes_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sign_in_codes_token_id"), ["token_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_web_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_web_sessions_secret_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_sessions_token_id"), ["token_id"], unique=False)

    with op.batch_alter_table("deployment_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hmac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit_sequence", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("audit_hash", sa.String(length=64), server_default=GENESIS, nullable=False)
        )
        batch_op.add_column(sa.Column("audit_hmac", sa.String(length=64), nullable=True))

    _seal_existing_chains(op.get_bind(), context.config.attributes.get("audit_key"))

    with op.batch_alter_table("deployment_audit", schema=None) as batch_op:
        batch_op.alter_column("hmac", existing_type=sa.String(length=64), nullable=False)


def _seal_existing_chains(connection: sa.Connection, key: bytes | None) -> None:
    """Seal every stored entry and every deployment's head (the last entry, as stored)."""
    deployments = sa.table(
        "deployments",
        sa.column("id", sa.String),
        sa.column("audit_sequence", sa.Integer),
        sa.column("audit_hash", sa.String),
        sa.column("audit_hmac", sa.String),
    )
    entries = sa.table(
        "deployment_audit",
        sa.column("id", sa.String),
        sa.column("deployment_id", sa.String),
        sa.column("sequence", sa.Integer),
        sa.column("hash", sa.String),
        sa.column("hmac", sa.String),
    )
    deployment_ids = connection.scalars(sa.select(deployments.c.id)).all()
    if not deployment_ids:
        return
    if key is None:
        raise RuntimeError(
            "Sealing the existing deployment audit chains needs the server's secret key: "
            "start the server (it migrates with its key) rather than migrating without one."
        )

    def sign(message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()

    heads: dict[str, tuple[int, str]] = {}
    sealed = []
    for row in connection.execute(
        sa.select(entries.c.id, entries.c.deployment_id, entries.c.sequence, entries.c.hash)
    ):
        sealed.append({"entry_id": row.id, "entry_hmac": sign(row.hash)})
        if row.sequence >= heads.get(row.deployment_id, (0, GENESIS))[0]:
            heads[row.deployment_id] = (row.sequence, row.hash)
    if sealed:
        connection.execute(
            entries.update()
            .where(entries.c.id == sa.bindparam("entry_id"))
            .values(hmac=sa.bindparam("entry_hmac")),
            sealed,
        )
    head_rows = []
    for deployment_id in deployment_ids:
        sequence, head_hash = heads.get(deployment_id, (0, GENESIS))
        head_rows.append(
            {
                "deployment": deployment_id,
                "sequence": sequence,
                "head_hash": head_hash,
                "head_hmac": sign(f"{deployment_id}:{sequence}:{head_hash}"),
            }
        )
    connection.execute(
        deployments.update()
        .where(deployments.c.id == sa.bindparam("deployment"))
        .values(
            audit_sequence=sa.bindparam("sequence"),
            audit_hash=sa.bindparam("head_hash"),
            audit_hmac=sa.bindparam("head_hmac"),
        ),
        head_rows,
    )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("audit_hmac")
        batch_op.drop_column("audit_hash")
        batch_op.drop_column("audit_sequence")
    with op.batch_alter_table("deployment_audit", schema=None) as batch_op:
        batch_op.drop_column("hmac")

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_token_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
    op.drop_table("web_sessions")
    with op.batch_alter_table("sign_in_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_codes_token_id"))
        batch_op.drop_index(batch_op.f("ix_sign_in_codes_expires_at"))
    op.drop_table("sign_in_codes")
