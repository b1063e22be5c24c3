"""The installation's id lives in the database: every server on it labels runtime objects alike."""

from __future__ import annotations

from dockyard.server.db.engine import make_engine
from dockyard.server.db.session import Database
from dockyard.server.installation import repository as installation


def test_the_first_server_records_its_id_and_later_ones_share_it(database_url: str) -> None:
    db = Database(make_engine(database_url))
    try:
        assert installation.instance_id(db, proposed="a" * 24) == "a" * 24
        assert installation.instance_id(db, proposed="b" * 24) == "a" * 24
    finally:
        db.dispose()
