"""Sessions: one unit of work per request, committed once by whoever opened it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dockyard.server.db.engine import IMMEDIATE


class Database:
    """Owns the engine and hands out sessions for reads and for writes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(
            engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = (self._writes if write else self._reads)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
