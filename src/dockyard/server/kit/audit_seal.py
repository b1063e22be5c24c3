"""HMACs under the audit chain's key: the seal of each entry and of each chain's head.

The platform object carries one for the running server; the deployments' audit log uses it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol


class SealedHead(Protocol):
    """A row that keeps a chain's head: its last sequence and hash, and their seal."""

    id: str
    audit_sequence: int
    audit_hash: str
    audit_hmac: str | None


class AuditSeal:
    """HMACs under the audit chain's key: one per entry hash, one for each chain's head."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def entry(self, entry_hash: str) -> str:
        return hmac.new(self._key, entry_hash.encode(), hashlib.sha256).hexdigest()

    def head(self, deployment_id: str, sequence: int, head_hash: str) -> str:
        # The deployment's id is sealed too, so one deployment's head cannot vouch for another's
        # chain.
        message = f"{deployment_id}:{sequence}:{head_hash}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def entry_holds(self, entry_hash: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.entry(entry_hash), given)

    def head_holds(self, row: SealedHead) -> bool:
        given = row.audit_hmac
        expected = self.head(row.id, row.audit_sequence, row.audit_hash)
        return given is not None and hmac.compare_digest(expected, given)
