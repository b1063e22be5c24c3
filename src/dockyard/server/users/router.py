"""HTTP routes of /users and /apiTokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from dockyard.core.models import ApiToken, CreatedApiToken, Page, User
from dockyard.server.db.work import UnitOfWork
from dockyard.server.kit.auth import CurrentUser
from dockyard.server.kit.pagination import Paging, page
from dockyard.server.users import service
from dockyard.server.users.schemas import ApiTokenCreate, UserCreate

users_router = APIRouter(tags=["Users"])
tokens_router = APIRouter(tags=["API tokens"])


@users_router.post("", status_code=201, response_model=User)
async def create_user(body: UserCreate, user: CurrentUser, work: UnitOfWork) -> User:
    """Create a user (admins only)."""
    return await work(service.create_user, user, body)


@users_router.get("", response_model=Page[User])
async def list_users(request: Request, user: CurrentUser, work: UnitOfWork, paging: Paging) -> dict:
    """Every user, newest first: anyone signed in may list them to share objects."""
    items, total = await work(service.list_users, user, offset=paging.offset, limit=paging.limit)
    return page(request, items, total, paging)


# Declared before /{user_id} so "me" is not taken for an id.
@users_router.get("/me", response_model=User)
async def get_me(user: CurrentUser, work: UnitOfWork) -> User:
    return await work(service.get_me, user)


@users_router.get("/{user_id}", response_model=User)
async def get_user(user_id: str, user: CurrentUser, work: UnitOfWork) -> User:
    return await work(service.get_user, user, user_id)


@tokens_router.post("", status_code=201, response_model=CreatedApiToken)
async def create_token(
    body: ApiTokenCreate, user: CurrentUser, work: UnitOfWork
) -> CreatedApiToken:
    """Create a token; the response is the only time the token itself is shown."""
    return await work(service.create_token, user, body)


@tokens_router.get("", response_model=Page[ApiToken])
async def list_tokens(
    request: Request,
    user: CurrentUser,
    work: UnitOfWork,
    paging: Paging,
    user_id: Annotated[
        str | None,
        Query(alias="userId", max_length=64, description="Another user's tokens (admins only)."),
    ] = None,
) -> dict:
    """The caller's tokens, newest first; admins may ask for another user's."""
    items, total = await work(
        service.list_tokens, user, user_id=user_id, offset=paging.offset, limit=paging.limit
    )
    return page(request, items, total, paging)


@tokens_router.delete("/{token_id}", status_code=204, response_class=Response)
async def delete_token(
    token_id: str, request: Request, user: CurrentUser, work: UnitOfWork
) -> Response:
    """Revoke a token at once in this process (other processes within the cache's second)."""
    await work(service.delete_token, user, token_id)
    # The unit of work has committed when `work` returns, so no concurrent request can cache
    # the token again; forgetting before the 204 is sent means that once the client has its
    # answer, no request to this server gets through with the token.
    _forget_checks(request.app.state)
    return Response(status_code=204)


def _forget_checks(state: Any) -> None:
    # Web sessions opened with the token end with it: their cached checks go too.
    state.token_verifier.forget()
    state.session_verifier.forget()
