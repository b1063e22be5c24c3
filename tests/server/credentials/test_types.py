"""The credential type table and the request schema agree."""

from __future__ import annotations

from typing import get_args

from dockyard.server.credentials.schemas import CredentialTypeName
from dockyard.server.credentials.types import CREDENTIAL_TYPES


def test_schema_names_exactly_the_types_of_the_table() -> None:
    assert set(get_args(CredentialTypeName)) == set(CREDENTIAL_TYPES)


def test_reference_fields_are_all_present() -> None:
    assert CREDENTIAL_TYPES["s3"].fields == (
        "awsAccessKeyId",
        "awsSecretAccessKey",
        "awsSessionToken",
    )
    assert set(CREDENTIAL_TYPES["snowflake_key_pair_user_account"].fields) == {
        "privateKeyStr",
        "passphrase",
        "user",
    }
    assert all(kind.required for kind in CREDENTIAL_TYPES.values())
