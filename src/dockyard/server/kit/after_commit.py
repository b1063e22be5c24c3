"""Work handed over only once the transaction that asked for it has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "dockyard_after_commit"


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` after the session commits; dropped if it rolls back."""
    session.info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    callbacks = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a failed hand-over must not turn a committed request into an error
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(_KEY, None)
