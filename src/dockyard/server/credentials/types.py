"""Credential types and the secret fields each one holds (the reference's env-var table).

Field names are the camelCase names clients send; a `dr-credential` environment variable's
`key` names one of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CredentialType:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # Fields that may be a JSON object as well as a string (a GCP service-account key file).
    json_allowed: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


CREDENTIAL_TYPES: dict[str, CredentialType] = {
    kind.name: kind
    for kind in (
        CredentialType("basic", required=("user", "password")),
        CredentialType("api_token", required=("apiToken",)),
        CredentialType("bearer", required=("token",)),
        # A session token only exists for temporary AWS credentials.
        CredentialType(
            "s3", required=("awsAccessKeyId", "awsSecretAccessKey"), optional=("awsSessionToken",)
        ),
        # Not every OAuth provider issues a refresh token.
        CredentialType("oauth", required=("token",), optional=("refreshToken",)),
        CredentialType("gcp", required=("gcpKey",), json_allowed=("gcpKey",)),
        CredentialType(
            "azure_service_principal", required=("azureTenantId", "clientId", "clientSecret")
        ),
        CredentialType("azure", required=("azureConnectionString",)),
        CredentialType("databricks_access_token_account", required=("databricksAccessToken",)),
        # An unencrypted private key has no passphrase.
        CredentialType(
            "snowflake_key_pair_user_account",
            required=("user", "privateKeyStr"),
            optional=("passphrase",),
        ),
    )
}

TYPE_NAMES: tuple[str, ...] = tuple(CREDENTIAL_TYPES)
