"""Who is calling: the bearer-token dependency every API route uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from dockyard.core.errors import Unauthorized


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


_bearer = HTTPBearer(auto_error=False, description="A Dockyard API token.")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # Async so a cache hit (nearly every request) costs no trip to the thread pool; only a
    # miss goes to a worker thread for its database look-up.
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    verifier = request.app.state.token_verifier
    found, principal = verifier.cached(credentials.credentials)
    if not found:
        principal = await run_in_threadpool(verifier.verify, credentials.credentials)
    if principal is None:
        raise Unauthorized("Invalid or revoked API token.")
    return principal


CurrentUser = Annotated[Principal, Depends(authenticate)]
