"""Request-scoped dependencies: the database session and the settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dockyard.server.settings import Settings

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _session(request: Request) -> Iterator[Session]:
    # The request owns the transaction: services flush, and this commits once, before the
    # response is sent (scope="function"), so a failed commit is never reported as success.
    with request.app.state.db.unit_of_work(write=request.method not in _READ_METHODS) as session:
        yield session


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


DbSession = Annotated[Session, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(_settings)]
