"""Workloads as what runs artifacts: the answers the artifacts package asks for.

Artifacts come before workloads and know nothing of them; `artifacts.usage.Users` says what
they need to know, and the server's assembly gives them `WorkloadsRunArtifacts`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dockyard.server.sharing.service import Blocker
from dockyard.server.workloads import repository
from dockyard.server.workloads.public import workload_target


class WorkloadsRunArtifacts:
    """An `artifacts.usage.Users`."""

    def using(self, session: Session, artifact_ids: list[str]) -> dict[str, list[Blocker]]:
        """The workloads that are not terminated and run each artifact.

        Deployments point at workloads, so a deployment's artifact is in use through its
        workload. Terminated workloads do not count: they keep their history and lose the
        reference.
        """
        found: dict[str, list[Blocker]] = {}
        for artifact_id, workload_id, name in repository.using_artifacts(session, artifact_ids):
            found.setdefault(artifact_id, []).append((workload_target(workload_id), name))
        return found

    def locked(self, session: Session, artifact_id: str) -> None:
        """A locked artifact's workloads live until stopped: their draft expiry goes."""
        repository.clear_expiry(session, artifact_id)
