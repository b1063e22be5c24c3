"""SQL for credentials."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dockyard.server.credentials.models import Credential


def add_credential(session: Session, credential: Credential) -> Credential:
    session.add(credential)
    session.flush()
    return credential


def delete_credential(session: Session, credential: Credential) -> None:
    session.delete(credential)
    session.flush()


def list_credentials(
    session: Session, *, owner_id: str | None, offset: int, limit: int
) -> tuple[list[Credential], int]:
    """A page of credentials, newest first; `owner_id=None` lists everyone's."""
    conditions: list[ColumnElement[bool]] = []
    if owner_id is not None:
        conditions.append(Credential.owner_id == owner_id)
    total = session.scalar(select(func.count()).select_from(Credential).where(*conditions)) or 0
    rows = session.scalars(
        select(Credential)
        .where(*conditions)
        .order_by(Credential.created_at.desc(), Credential.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total
