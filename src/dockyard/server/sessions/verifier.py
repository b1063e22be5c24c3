"""The check behind every signed-in page: a session cookie resolved to its user, cached like
API tokens are (so a sign-out or a revoked token takes effect within a second everywhere)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.server.kit.auth import Principal, Profile
from dockyard.server.kit.clock import utcnow
from dockyard.server.sessions import repository
from dockyard.server.users.tokens import CachedSecretCheck


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    principal: Principal
    csrf: str  # the token every form and fetch of this session must carry


class SessionVerifier(CachedSecretCheck[SignedIn]):
    def _load(self, digest: str) -> SignedIn | None:
        with self._db.unit_of_work(write=False) as session:
            row = repository.signed_in(session, digest, utcnow())
        if row is None:
            return None
        principal = Principal(
            user_id=row.id,
            username=row.username,
            is_admin=row.is_admin,
            profile=Profile(email=row.email, full_name=row.full_name),
        )
        return SignedIn(session_id=row.session_id, principal=principal, csrf=row.csrf)
