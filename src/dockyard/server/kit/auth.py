"""Who is calling: the bearer-token dependency every API route uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from dockyard.core.errors import Unauthorized
from dockyard.server.kit.threads import in_worker_thread


@dataclass(frozen=True)
class Profile:
    """What responses show of a user besides id and username (as a creator, say)."""

    email: str | None
    full_name: str | None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    username: str
    is_admin: bool
    # Read with the token, so a create can name its creator without a query (users are not
    # edited after they are created). None when the principal was made without it.
    profile: Profile | None = None


# The web UI's read bridge calls the API in-process for a signed-in browser, which holds a
# session rather than a token: it puts the session's principal in the ASGI scope under this key.
# Only code in this process can set a scope key; nothing a client sends becomes one.
IN_PROCESS_PRINCIPAL = "dockyard.principal"


class BearerToken(HTTPBearer):
    """The caller's API token: the security scheme the OpenAPI document shows, and its check.

    The check is in the scheme's own `__call__` rather than in a function depending on an
    `HTTPBearer`: FastAPI resolves each dependency with a fixed cost (a few tens of
    microseconds), and every API request would pay it twice.
    """

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        # Async so a cache hit (nearly every request) costs no trip to the thread pool; only a
        # miss goes to a worker thread for its database look-up.
        signed_in = request.scope.get(IN_PROCESS_PRINCIPAL)
        if signed_in is not None:
            return signed_in
        credentials = await super().__call__(request)
        if credentials is None or not credentials.credentials:
            raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
        verifier = request.app.state.token_verifier
        found, principal = verifier.cached(credentials.credentials)
        if not found:
            principal = await in_worker_thread(verifier.verify, credentials.credentials)
        if principal is None:
            raise Unauthorized("Invalid or revoked API token.")
        return principal


# Named as the plain HTTPBearer was, so the document's security scheme keeps its name.
authenticate = BearerToken(
    auto_error=False, description="A Dockyard API token.", scheme_name="HTTPBearer"
)

CurrentUser = Annotated[Principal, Depends(authenticate)]
