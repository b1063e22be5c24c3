"""HTTP routes of /users and /apiTokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.background import BackgroundTask

from dockyard.core.models import ApiToken, CreatedApiToken, Page, User
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.deps import DbSession
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.users import service
from dockyard.server.users.schemas import ApiTokenCreate, UserCreate

users_router = APIRouter(tags=["Users"])
tokens_router = APIRouter(tags=["API tokens"])


@users_router.post("", status_code=201, response_model=User)
def create_user(body: UserCreate, user: CurrentUser, session: DbSession) -> User:
    """Create a user (admins only)."""
    return service.create_user(session, user, body)


@users_router.get("", response_model=Page[User])
def list_users(request: Request, user: CurrentUser, session: DbSession, paging: Paging) -> dict:
    """Every user, newest first: anyone signed in may list them to share objects."""
    items, total = service.list_users(session, user, offset=paging.offset, limit=paging.limit)
    return page(request, items, total, paging)


# Declared before /{user_id} so "me" is not taken for an id.
@users_router.get("/me", response_model=User)
def get_me(user: CurrentUser, session: DbSession) -> User:
    return service.get_me(session, user)


@users_router.get("/{user_id}", response_model=User)
def get_user(user_id: str, user: CurrentUser, session: DbSession) -> User:
    return service.get_user(session, user, user_id)


@tokens_router.post("", status_code=201, response_model=CreatedApiToken)
def create_token(body: ApiTokenCreate, user: CurrentUser, session: DbSession) -> CreatedApiToken:
    """Create a token; the response is the only time the token itself is shown."""
    return service.create_token(session, user, body)


@tokens_router.get("", response_model=Page[ApiToken])
def list_tokens(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    paging: Paging,
    user_id: Annotated[
        str | None,
        Query(alias="userId", max_length=64, description="Another user's tokens (admins only)."),
    ] = None,
) -> dict:
    """The caller's tokens, newest first; admins may ask for another user's."""
    items, total = service.list_tokens(
        session, user, user_id=user_id, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@tokens_router.delete("/{token_id}", status_code=204, response_class=Response)
def delete_token(
    token_id: str, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    """Revoke a token at once in this process (other processes within the cache's second)."""
    service.delete_token(session, user, token_id)
    # Runs after the response, so after the request's transaction committed: forgetting
    # earlier could let a concurrent request re-cache the still-present token.
    return Response(status_code=204, background=BackgroundTask(_forget_checks, request.app.state))


def _forget_checks(state: Any) -> None:
    # Web sessions opened with the token end with it: their cached checks go too.
    state.token_verifier.forget()
    state.session_verifier.forget()
