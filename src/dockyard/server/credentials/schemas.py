"""The request body of POST /credentials and the check of its type-specific fields."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from dockyard.core.base import CamelModel
from dockyard.core.errors import ValidationFailed
from dockyard.core.unknown_fields import note_ignored
from dockyard.server.credentials.types import CREDENTIAL_TYPES

MAX_SECRET_CHARS = 64 * 1024

CredentialTypeName = Literal[
    "basic",
    "api_token",
    "bearer",
    "s3",
    "oauth",
    "gcp",
    "azure_service_principal",
    "azure",
    "databricks_access_token_account",
    "snowflake_key_pair_user_account",
]


class CredentialCreate(CamelModel):
    """Common fields; the secret fields depend on `credentialType` (see `secret_fields`)."""

    # Extra keys are the type's secret fields; those the type does not have are ignored.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str = Field(min_length=1, max_length=500, pattern=r"\S")
    credential_type: CredentialTypeName = Field(
        description="basic: user, password · api_token: apiToken · bearer: token · "
        "s3: awsAccessKeyId, awsSecretAccessKey, awsSessionToken? · oauth: token, "
        "refreshToken? · gcp: gcpKey · azure_service_principal: azureTenantId, clientId, "
        "clientSecret · azure: azureConnectionString · databricks_access_token_account: "
        "databricksAccessToken · snowflake_key_pair_user_account: user, privateKeyStr, "
        "passphrase?"
    )
    description: str | None = Field(default=None, max_length=10_000)

    @field_validator("name", "description")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL; secret fields are safe (sealed before storage).
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def secret_fields(body: CredentialCreate) -> dict[str, Any]:
    """The type's fields from the body, or a 422 listing every missing or unexpected one."""
    kind = CREDENTIAL_TYPES[body.credential_type]
    given = dict(body.model_extra or {})
    errors: list[dict[str, Any]] = []
    # Like every body's unknown fields: ignored and named in the answer's Warning header.
    note_ignored(sorted(set(given) - set(kind.fields)))
    fields: dict[str, Any] = {}
    for name in kind.fields:
        value = given.get(name)
        if value is None:
            if name in kind.required:
                errors.append(_error(name, "Field required", "missing"))
            continue
        problem = _check_value(value, json_allowed=name in kind.json_allowed)
        if problem is None and name in kind.required and value == "":
            problem = ("String should have at least 1 character", "string_too_short")
        if problem is not None:
            errors.append(_error(name, *problem))
            continue
        fields[name] = value
    if errors:
        raise ValidationFailed(errors)
    return fields


def _check_value(value: Any, *, json_allowed: bool) -> tuple[str, str] | None:
    if isinstance(value, str):
        size = len(value)
    elif json_allowed and isinstance(value, dict):
        size = len(json.dumps(value))
    else:
        kind = "a string or an object" if json_allowed else "a valid string"
        return (f"Input should be {kind}", "string_type")
    if size > MAX_SECRET_CHARS:
        return (f"Value should have at most {MAX_SECRET_CHARS} characters", "string_too_long")
    return None


def _error(name: str, msg: str, type_: str) -> dict[str, Any]:
    return {"loc": ["body", name], "msg": msg, "type": type_}
