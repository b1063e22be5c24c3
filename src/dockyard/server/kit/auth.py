"""Who is calling: the bearer-token dependency every API route uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dockyard.core.errors import Unauthorized


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    username: str
    is_admin: bool


_bearer = HTTPBearer(auto_error=False, description="A Dockyard API token.")


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    principal = request.app.state.token_verifier.verify(credentials.credentials)
    if principal is None:
        raise Unauthorized("Invalid or revoked API token.")
    return principal


CurrentUser = Annotated[Principal, Depends(authenticate)]
