"""Web UI sessions and the one-time sign-in codes that open them (secrets kept only as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.server.db.base import Base, IdMixin, UTCDateTime
from dockyard.server.kit.clock import utcnow


class WebSession(IdMixin, Base):
    """A signed-in browser. Deleting the row signs it out, on every server."""

    __tablename__ = "web_sessions"

    # SHA-256 of the cookie's value: a leaked table does not hand out sessions.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The API token the session was opened with: revoking it ends the session.
    token_id: Mapped[str] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SignInCode(IdMixin, Base):
    """A one-time code for the sign-in link `dockyard serve` prints; used once, then deleted."""

    __tablename__ = "sign_in_codes"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[str] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
