"""Deployments as what serves workloads: the answers the workloads package asks for.

Workloads come before deployments and know nothing of them; `workloads.usage.Users` says what
they need to know, and the server's assembly gives them `DeploymentsServeWorkloads`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dockyard.server.deployments import repository
from dockyard.server.deployments.public import deployment_target
from dockyard.server.sharing.service import Blocker


class DeploymentsServeWorkloads:
    """A `workloads.usage.Users`."""

    def using(self, session: Session, workload_id: str) -> list[Blocker]:
        """The live deployments that serve the workload or are switching to it."""
        return [
            (deployment_target(d), d.name) for d in repository.naming_workload(session, workload_id)
        ]
