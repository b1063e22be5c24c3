"""What keeps a workload from being deleted.

What serves a workload is known a layer up, in the deployments package: workloads ask it
through `USERS` (the pattern of `dockyard.server.kit.answers`), and learn nothing else about it.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from dockyard.server.kit.answers import Answer
from dockyard.server.sharing.service import Blocker


class Users(Protocol):
    """What workloads ask of the package that serves them."""

    def using(self, session: Session, workload_id: str) -> list[Blocker]:
        """What serves the workload (or is switching to it) and so keeps it from being
        deleted, in the order a 409 names them."""
        ...


USERS: Answer[Users] = Answer("what serves a workload")


def usage(session: Session, workload_id: str) -> list[Blocker]:
    """What serves the workload (as blockers)."""
    return USERS.get().using(session, workload_id)
