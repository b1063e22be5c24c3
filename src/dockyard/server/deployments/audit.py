"""The append-only, hash-chained audit log of a deployment.

Each entry's `hash` is the SHA-256 of the canonical JSON of the entry without `hash`
(sorted keys, no whitespace, UTF-8); `prevHash` links it to the entry before (64 zeros for the
first). Editing, removing or reordering any stored entry breaks the chain, and `verify` says so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.server.deployments.models import DeploymentAuditEntry
from dockyard.server.kit.clock import utcnow

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_body(row: DeploymentAuditEntry) -> dict[str, Any]:
    """The public entry without its hash: exactly what is hashed."""
    return {
        "id": row.id,
        "sequence": row.sequence,
        "timestamp": row.timestamp,
        "actorId": row.actor_id,
        "action": row.action,
        "before": row.before,
        "after": row.after,
        "prevHash": row.prev_hash,
    }


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def append(
    session: Session,
    deployment_id: str,
    action: str,
    *,
    actor_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> DeploymentAuditEntry:
    """Add the next entry. The caller holds the deployment's row lock (or SQLite's write
    lock), so sequences are gap-free; the unique constraint is the backstop."""
    last = session.execute(
        select(DeploymentAuditEntry.sequence, DeploymentAuditEntry.hash)
        .where(DeploymentAuditEntry.deployment_id == deployment_id)
        .order_by(DeploymentAuditEntry.sequence.desc())
        .limit(1)
    ).first()
    sequence, prev_hash = (last.sequence + 1, last.hash) if last else (1, GENESIS)
    moment = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    row = DeploymentAuditEntry(
        deployment_id=deployment_id,
        sequence=sequence,
        timestamp=moment,
        actor_id=actor_id,
        action=action,
        before=_plain(before),
        after=_plain(after),
        prev_hash=prev_hash,
        hash="",
    )
    session.add(row)
    session.flush()  # assigns the id, which is part of what is hashed
    row.hash = digest(entry_body(row))
    session.flush()
    return row


def entries(
    session: Session, deployment_id: str, *, offset: int, limit: int
) -> tuple[list[DeploymentAuditEntry], int]:
    condition = DeploymentAuditEntry.deployment_id == deployment_id
    total = session.scalar(select(func.count()).select_from(DeploymentAuditEntry).where(condition))
    rows = session.scalars(
        select(DeploymentAuditEntry)
        .where(condition)
        .order_by(DeploymentAuditEntry.sequence)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


def verify(session: Session, deployment_id: str) -> bool:
    """Recompute the whole chain."""
    expected_prev = GENESIS
    expected_sequence = 1
    for row in session.scalars(
        select(DeploymentAuditEntry)
        .where(DeploymentAuditEntry.deployment_id == deployment_id)
        .order_by(DeploymentAuditEntry.sequence)
    ):
        if row.sequence != expected_sequence or row.prev_hash != expected_prev:
            return False
        if digest(entry_body(row)) != row.hash:
            return False
        expected_prev, expected_sequence = row.hash, expected_sequence + 1
    return True


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Store exactly what JSON will give back, so the hash recomputes identically.
    return None if value is None else json.loads(json.dumps(value))
