"""`client.users`, `client.tokens` and `client.credentials`, in both flavours.

Their objects are plain models: they have no methods that call the server.
"""

from __future__ import annotations

from typing import Any

from dockyard.core.credentials import Credential
from dockyard.core.models import ApiToken, CreatedApiToken, User
from dockyard.sdk.base import (
    Query,
    Resource,
    async_list,
    awaited,
    blocking,
    blocking_list,
    compact,
    plain_query,
)
from dockyard.sdk.transport import Call, Operation, discard, parse


class UserCalls(Resource):
    def _create(
        self,
        username: str,
        *,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool | None = None,
    ) -> Operation[User]:
        """Create a user (admins only)."""
        body = compact(username=username, email=email, fullName=full_name, isAdmin=is_admin)
        return parse(Call("POST", "/users", json=body), User)

    def _get(self, user_id: str) -> Operation[User]:
        return parse(Call("GET", f"/users/{user_id}"), User)

    def _me(self) -> Operation[User]:
        """The user the token belongs to."""
        return parse(Call("GET", "/users/me"), User)

    def _list(self, *, limit: int | None = None) -> Query[User]:
        return plain_query("/users", User, {}, limit)


class Users(UserCalls):
    create = blocking(UserCalls._create)
    get = blocking(UserCalls._get)
    me = blocking(UserCalls._me)
    list = blocking_list(UserCalls._list)


class AsyncUsers(UserCalls):
    create = awaited(UserCalls._create)
    get = awaited(UserCalls._get)
    me = awaited(UserCalls._me)
    list = async_list(UserCalls._list)


class TokenCalls(Resource):
    def _create(self, name: str, *, user_id: str | None = None) -> Operation[CreatedApiToken]:
        """A new API token; `token` is shown this once. Another user's needs an admin."""
        body = compact(name=name, userId=user_id)
        return parse(Call("POST", "/apiTokens", json=body), CreatedApiToken)

    def _list(self, *, limit: int | None = None) -> Query[ApiToken]:
        return plain_query("/apiTokens", ApiToken, {}, limit)

    def _delete(self, token_id: str) -> Operation[None]:
        """Revoke a token (it stops working within a second)."""
        return discard(Call("DELETE", f"/apiTokens/{token_id}"))


class Tokens(TokenCalls):
    create = blocking(TokenCalls._create)
    list = blocking_list(TokenCalls._list)
    delete = blocking(TokenCalls._delete)


class AsyncTokens(TokenCalls):
    create = awaited(TokenCalls._create)
    list = async_list(TokenCalls._list)
    delete = awaited(TokenCalls._delete)


class CredentialCalls(Resource):
    def _create(
        self, name: str, credential_type: str, *, description: str | None = None, **fields: Any
    ) -> Operation[Credential]:
        """Store a secret; `fields` are the type's fields (`user`, `password`, `apiToken`, …)."""
        body = compact(name=name, credentialType=credential_type, description=description, **fields)
        return parse(Call("POST", "/credentials", json=body), Credential)

    def _get(self, credential_id: str) -> Operation[Credential]:
        return parse(Call("GET", f"/credentials/{credential_id}"), Credential)

    def _list(self, *, limit: int | None = None) -> Query[Credential]:
        return plain_query("/credentials", Credential, {}, limit)

    def _delete(self, credential_id: str) -> Operation[None]:
        return discard(Call("DELETE", f"/credentials/{credential_id}"))


class Credentials(CredentialCalls):
    create = blocking(CredentialCalls._create)
    get = blocking(CredentialCalls._get)
    list = blocking_list(CredentialCalls._list)
    delete = blocking(CredentialCalls._delete)


class AsyncCredentials(CredentialCalls):
    create = awaited(CredentialCalls._create)
    get = awaited(CredentialCalls._get)
    list = async_list(CredentialCalls._list)
    delete = awaited(CredentialCalls._delete)
