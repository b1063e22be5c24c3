"""The installation's id: one per database, so every server sharing it labels alike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dockyard.server.db.session import Database
from dockyard.server.installation.models import InstallationFact

INSTANCE_ID = "instance_id"


def instance_id(db: Database, proposed: str) -> str:
    """The installation's instance id, recording `proposed` when the database has none yet.

    Runtime objects are labelled with it, and garbage collection and adoption touch only
    objects carrying it: servers on one database are one installation (any of them may clean
    up what another started), while a second installation on the same engine (a test run
    beside a dev server) has its own database and so its own id."""
    try:
        with db.unit_of_work() as session:
            found = session.get(InstallationFact, INSTANCE_ID)
            if found is not None:
                return found.value
            session.add(InstallationFact(name=INSTANCE_ID, value=proposed))
        return proposed
    except IntegrityError:
        # Another server starting at the same moment recorded its own first: use that one.
        with db.unit_of_work(write=False) as session:
            return session.scalars(
                select(InstallationFact.value).where(InstallationFact.name == INSTANCE_ID)
            ).one()
