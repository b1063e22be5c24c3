"""The reconciler's side of deployments: finish switches once the new workload runs."""

from __future__ import annotations

from dockyard.server.db.session import Database
from dockyard.server.deployments import service
from dockyard.server.kit.audit_seal import AuditSeal


def advance_deployment_switches(db: Database, seal: AuditSeal, base_url: str) -> list[str]:
    with db.unit_of_work() as session:
        return service.advance_switches(session, seal, base_url)
