"""`client.users`, `client.tokens` and `client.credentials`."""

from __future__ import annotations

from typing import Any

from dockyard.core.credentials import Credential
from dockyard.core.models import ApiToken, CreatedApiToken, User
from dockyard.sdk.base import Listing, Resource, compact
from dockyard.sdk.transport import Call, Operation, discard


class Users(Resource):
    def create(
        self,
        username: str,
        *,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool | None = None,
    ) -> User:
        """Create a user (admins only)."""
        body = compact(username=username, email=email, fullName=full_name, isAdmin=is_admin)
        return self._run(_model(Call("POST", "/users", json=body), User))

    def get(self, user_id: str) -> User:
        return self._run(_model(Call("GET", f"/users/{user_id}"), User))

    def me(self) -> User:
        """The user the token belongs to."""
        return self._run(_model(Call("GET", "/users/me"), User))

    def list(self, *, limit: int | None = None) -> Listing[User]:
        return Listing(self._client, "/users", {}, User.model_validate, limit)


class Tokens(Resource):
    def create(self, name: str, *, user_id: str | None = None) -> CreatedApiToken:
        """A new API token; `token` is shown this once. Another user's needs an admin."""
        body = compact(name=name, userId=user_id)
        return self._run(_model(Call("POST", "/apiTokens", json=body), CreatedApiToken))

    def list(self, *, limit: int | None = None) -> Listing[ApiToken]:
        return Listing(self._client, "/apiTokens", {}, ApiToken.model_validate, limit)

    def delete(self, token_id: str) -> None:
        """Revoke a token (it stops working within a second)."""
        return self._run(discard(Call("DELETE", f"/apiTokens/{token_id}")))


class Credentials(Resource):
    def create(
        self, name: str, credential_type: str, *, description: str | None = None, **fields: Any
    ) -> Credential:
        """Store a secret; `fields` are the type's fields (`user`, `password`, `apiToken`, …)."""
        body = compact(name=name, credentialType=credential_type, description=description, **fields)
        return self._run(_model(Call("POST", "/credentials", json=body), Credential))

    def get(self, credential_id: str) -> Credential:
        return self._run(_model(Call("GET", f"/credentials/{credential_id}"), Credential))

    def list(self, *, limit: int | None = None) -> Listing[Credential]:
        return Listing(self._client, "/credentials", {}, Credential.model_validate, limit)

    def delete(self, credential_id: str) -> None:
        return self._run(discard(Call("DELETE", f"/credentials/{credential_id}")))


def _model(call: Call, model: type[Any]) -> Operation[Any]:
    body = yield call
    return model.model_validate(body)
