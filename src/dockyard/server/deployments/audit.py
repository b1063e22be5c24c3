"""The append-only, hash-chained and sealed audit log of a deployment.

Each entry's `hash` is the SHA-256 of the canonical JSON of the entry without `hash` and `hmac`
(sorted keys, no whitespace, UTF-8); `prevHash` links it to the entry before (64 zeros for the
first). A hash chain alone proves nothing to someone who can write the table: they can rewrite
an entry and recompute every hash after it, or cut entries off the end. So each entry also
carries `hmac`, an HMAC-SHA-256 of its `hash` under a key derived from the server's secret key,
and the deployment row keeps the chain's head (last sequence and hash) sealed the same way.
Without the key, no rewritten, removed or truncated entry verifies.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from dockyard.server.deployments import repository
from dockyard.server.deployments.models import GENESIS, Deployment, DeploymentAuditEntry
from dockyard.server.kit.audit_seal import AuditSeal
from dockyard.server.kit.clock import utcnow

# The label of the key derived from the server's secret key; changing it breaks every seal.
SEAL_PURPOSE = "deployment-audit-chain/v1"


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
    seal: AuditSeal,
    deployment: Deployment,
    action: str,
    *,
    actor_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> DeploymentAuditEntry:
    """Add the next entry and move the sealed head to it.

    The head is read under the deployment's row lock (on PostgreSQL; SQLite runs one write
    transaction at a time), so concurrent appends queue up and each one extends the chain
    the previous one left; the unique (deployment, sequence) constraint is the backstop.
    """
    session.flush()
    last_sequence, prev_hash = repository.locked_audit_head(session, deployment.id)
    sequence = last_sequence + 1
    moment = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    row = DeploymentAuditEntry(
        deployment_id=deployment.id,
        sequence=sequence,
        timestamp=moment,
        actor_id=actor_id,
        action=action,
        before=_plain(before),
        after=_plain(after),
        prev_hash=prev_hash,
        hash="",
        hmac="",
    )
    session.add(row)
    session.flush()  # assigns the id, which is part of what is hashed
    row.hash = digest(entry_body(row))
    row.hmac = seal.entry(row.hash)
    deployment.audit_sequence, deployment.audit_hash = sequence, row.hash
    deployment.audit_hmac = seal.head(deployment.id, sequence, row.hash)
    session.flush()
    return row


def verify(session: Session, seal: AuditSeal, deployment: Deployment) -> bool:
    """Recompute the whole chain, check every seal, and check that it ends at the sealed head."""
    if not seal.head_holds(deployment):
        return False
    expected_prev, sequence = GENESIS, 0
    for row in repository.audit_chain(session, deployment.id):
        sequence += 1
        if row.sequence != sequence or row.prev_hash != expected_prev:
            return False
        if digest(entry_body(row)) != row.hash or not seal.entry_holds(row.hash, row.hmac):
            return False
        expected_prev = row.hash
    return sequence == deployment.audit_sequence and expected_prev == deployment.audit_hash


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Store exactly what JSON will give back, so the hash recomputes identically.
    return None if value is None else json.loads(json.dumps(value))
