"""Who is calling: the API-token dependency every API route uses, and the token forms it reads.

The hosted platform's clients send the same token three ways: `Authorization: Bearer <t>`,
`Authorization: Token <t>` (the DataRobot Python client's default) and, with no
`Authorization` header, `x-datarobot-api-key: <t>`. The API, the invoke path and the web UI's
bridge all read it through `read_token`, so each accepts exactly the same forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

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


# `Authorization` schemes that carry a Dockyard API token, lower-cased.
TOKEN_SCHEMES = frozenset({"bearer", "token"})
API_KEY_HEADER = "x-datarobot-api-key"
MISSING_TOKEN = (
    "Missing API token: send 'Authorization: Bearer <token>' (or 'Token <token>', or an "
    "'x-datarobot-api-key' header)."
)
INVALID_TOKEN = "Invalid or revoked API token."


def read_token(authorization: str | None, api_key: str | None = None) -> str | None:
    """The API token a request carries, in any accepted form; None when it carries none.

    `Authorization` wins when present, as on the hosted platform: a request whose
    `Authorization` holds another scheme (Basic, say) is refused rather than judged by a
    second header it may not have meant.
    """
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() not in TOKEN_SCHEMES:
            return None
        return value.strip() or None
    if api_key:
        return api_key.strip() or None
    return None


# The web UI's read bridge calls the API in-process for a signed-in browser, which holds a
# session rather than a token: it puts the session's principal in the ASGI scope under this key.
# Only code in this process can set a scope key; nothing a client sends becomes one.
IN_PROCESS_PRINCIPAL = "dockyard.principal"


class BearerToken(HTTPBearer):
    """The caller's API token: the security scheme the OpenAPI document shows, and its check.

    The check is in the scheme's own `__call__` rather than in a function depending on an
    `HTTPBearer`: FastAPI resolves each dependency at a fixed cost, and every API request
    would pay it twice.
    """

    # Returns the Principal where HTTPBearer returns credentials: deliberately, see above.
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        # Async so a cache hit (nearly every request) costs no trip to the thread pool; only a
        # miss goes to a worker thread for its database look-up.
        signed_in = request.scope.get(IN_PROCESS_PRINCIPAL)
        if signed_in is not None:
            return signed_in
        headers = request.headers
        token = read_token(headers.get("authorization"), headers.get(API_KEY_HEADER))
        if token is None:
            raise Unauthorized(MISSING_TOKEN)
        verifier = request.app.state.token_verifier
        found, principal = verifier.cached(token)
        if not found:
            principal = await verifier.check(token)
        if principal is None:
            raise Unauthorized(INVALID_TOKEN)
        return principal


# Named as the plain HTTPBearer was, so the document's security scheme keeps its name.
authenticate = BearerToken(
    auto_error=False,
    description=(
        "A Dockyard API token, as 'Authorization: Bearer <token>' or 'Authorization: Token "
        "<token>' (or, without an Authorization header, in 'x-datarobot-api-key')."
    ),
    scheme_name="HTTPBearer",
)

CurrentUser = Annotated[Principal, Depends(authenticate)]
