"""Rules for users and API tokens: who may create, see and revoke what."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, Forbidden, NotFound
from dockyard.core.models import ApiToken as ApiTokenOut
from dockyard.core.models import CreatedApiToken
from dockyard.core.models import User as UserOut
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.kit.ids import is_valid_id
from dockyard.server.kit.repository import find
from dockyard.server.users import repository
from dockyard.server.users.models import ApiToken, User
from dockyard.server.users.schemas import ApiTokenCreate, UserCreate
from dockyard.server.users.tokens import generate_token, hash_token


def user_to_public(row: User) -> UserOut:
    return UserOut(
        id=row.id,
        username=row.username,
        email=row.email,
        full_name=row.full_name,
        is_admin=row.is_admin,
        created_at=isoformat(row.created_at) or "",
    )


def token_to_public(row: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=row.id, name=row.name, user_id=row.user_id, created_at=isoformat(row.created_at) or ""
    )


def _require_admin(principal: Principal, action: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"Only admins may {action}.")


def _existing_user(session: Session, user_id: str) -> User:
    # A malformed id is the same 404 and never reaches the database.
    user = find(session, User, user_id) if is_valid_id(user_id) else None
    if user is None:
        raise NotFound.of("user", user_id)
    return user


# --- users -----------------------------------------------------------------------------------


def create_user(session: Session, principal: Principal, body: UserCreate) -> UserOut:
    _require_admin(principal, "create users")
    taken = Conflict(f"The username '{body.username}' is taken.", code="username_taken")
    if repository.get_user_by_username(session, body.username) is not None:
        raise taken
    row = User(
        username=body.username, email=body.email, full_name=body.full_name, is_admin=body.is_admin
    )
    try:
        repository.add_user(session, row)
    except IntegrityError as exc:
        # Two requests raced past the check above; the unique index decided. The request's
        # transaction is rolled back by its owner when the error propagates.
        raise taken from exc
    return user_to_public(row)


def list_users(
    session: Session, principal: Principal, *, offset: int, limit: int
) -> tuple[list[UserOut], int]:
    """Every user, for everyone signed in.

    Non-admins see the list too: sharing an object means picking its recipients, and the
    hosted API lets any member look up the users of their organization. The fields are the
    same for everyone (no secrets live on a user).
    """
    del principal  # authenticated by the route; no per-caller filtering, see above
    rows, total = repository.list_users(session, offset=offset, limit=limit)
    return [user_to_public(row) for row in rows], total


def get_user(session: Session, principal: Principal, user_id: str) -> UserOut:
    del principal  # any signed-in user may look a user up, as in list_users
    return user_to_public(_existing_user(session, user_id))


def get_me(session: Session, principal: Principal) -> UserOut:
    return user_to_public(_existing_user(session, principal.user_id))


# --- tokens ----------------------------------------------------------------------------------


def create_token(session: Session, principal: Principal, body: ApiTokenCreate) -> CreatedApiToken:
    owner_id = body.user_id or principal.user_id
    if owner_id != principal.user_id:
        # Checked before the look-up so non-admins cannot probe which user ids exist.
        _require_admin(principal, "create tokens for other users")
        _existing_user(session, owner_id)
    token = generate_token()
    row = repository.add_token(
        session, ApiToken(name=body.name, user_id=owner_id, token_hash=hash_token(token))
    )
    public = token_to_public(row)
    return CreatedApiToken(**public.model_dump(), token=token)


def list_tokens(
    session: Session, principal: Principal, *, user_id: str | None, offset: int, limit: int
) -> tuple[list[ApiTokenOut], int]:
    """The caller's own tokens; admins may name another user with `user_id`.

    Admins also default to their own tokens, so `dockyard token list` means the same thing
    for everyone; listing someone else's is an explicit choice.
    """
    owner_id = user_id or principal.user_id
    if owner_id != principal.user_id:
        _require_admin(principal, "list other users' tokens")
        _existing_user(session, owner_id)
    rows, total = repository.list_tokens(session, user_id=owner_id, offset=offset, limit=limit)
    return [token_to_public(row) for row in rows], total


def delete_token(session: Session, principal: Principal, token_id: str) -> None:
    """Revoke a token; another user's token does not exist for a non-admin."""
    row = find(session, ApiToken, token_id) if is_valid_id(token_id) else None
    if row is None or not (principal.is_admin or row.user_id == principal.user_id):
        raise NotFound.of("token", token_id)
    repository.delete_token(session, row)
