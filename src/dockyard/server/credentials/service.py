"""Credential rules: who sees which credential, sealing secrets, resolving env references."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from dockyard.core.credentials import Credential as CredentialOut
from dockyard.core.errors import NotFound, ValidationFailed
from dockyard.server.credentials import repository
from dockyard.server.credentials.crypto import SecretBox
from dockyard.server.credentials.models import Credential
from dockyard.server.credentials.schemas import CredentialCreate, secret_fields
from dockyard.server.credentials.types import CREDENTIAL_TYPES
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.kit.ids import is_valid_id
from dockyard.server.kit.repository import find


def to_public(row: Credential) -> CredentialOut:
    return CredentialOut(
        credential_id=row.id,
        name=row.name,
        credential_type=row.credential_type,
        description=row.description or "",
        creation_date=isoformat(row.created_at) or "",
    )


def _visible(
    session: Session, *, owner_id: str, is_admin: bool, credential_id: str
) -> Credential | None:
    # A malformed id never reaches the database (PostgreSQL rejects some bytes outright).
    if not is_valid_id(credential_id):
        return None
    row = find(session, Credential, credential_id)
    if row is None or not (is_admin or row.owner_id == owner_id):
        return None
    return row


def _require(session: Session, principal: Principal, credential_id: str) -> Credential:
    row = _visible(
        session,
        owner_id=principal.user_id,
        is_admin=principal.is_admin,
        credential_id=credential_id,
    )
    if row is None:
        raise NotFound.of("credential", credential_id)
    return row


def create_credential(
    session: Session, secret_box: SecretBox, principal: Principal, body: CredentialCreate
) -> CredentialOut:
    fields = secret_fields(body)
    row = repository.add_credential(
        session,
        Credential(
            name=body.name,
            credential_type=body.credential_type,
            description=body.description or "",
            encrypted_fields=secret_box.seal(fields),
            owner_id=principal.user_id,
        ),
    )
    return to_public(row)


def list_credentials(
    session: Session, principal: Principal, *, offset: int, limit: int
) -> tuple[list[CredentialOut], int]:
    """The caller's credentials; admins see everyone's."""
    owner = None if principal.is_admin else principal.user_id
    rows, total = repository.list_credentials(session, owner_id=owner, offset=offset, limit=limit)
    return [to_public(row) for row in rows], total


def get_credential(session: Session, principal: Principal, credential_id: str) -> CredentialOut:
    return to_public(_require(session, principal, credential_id))


def delete_credential(session: Session, principal: Principal, credential_id: str) -> None:
    repository.delete_credential(session, _require(session, principal, credential_id))


def may_use(row: Credential, *, user_id: str, is_admin: bool) -> bool:
    """Whose secrets a spec may carry: a user's own credentials; an admin's, anyone's."""
    return is_admin or row.owner_id == user_id


def validate_env_reference(
    session: Session,
    *,
    user_id: str,
    is_admin: bool,
    credential_id: str,
    key: str,
    loc: list[str | int],
) -> None:
    """Check a `dr-credential` variable: the user may use its credential and `key` is a field
    of it. `user_id` is whoever writes the spec or runs it, never merely the artifact's
    creator: an editor must not route the creator's secrets into a container they shaped."""
    row = find(session, Credential, credential_id) if is_valid_id(credential_id) else None
    if row is None:
        raise ValidationFailed.at(
            [*loc, "drCredentialId"],
            f"credential '{credential_id}' does not exist",
            "credential_not_found",
        )
    if not may_use(row, user_id=user_id, is_admin=is_admin):
        raise ValidationFailed.at(
            [*loc, "drCredentialId"],
            f"credential '{credential_id}' belongs to another user; a spec may reference only "
            "credentials of whoever writes it (or runs it)",
            "credential_not_usable",
            code="credential_not_usable",
        )
    kind = CREDENTIAL_TYPES.get(row.credential_type)
    fields = kind.fields if kind is not None else ()
    if key not in fields:
        raise ValidationFailed.at(
            [*loc, "key"],
            f"'{key}' is not a field of a {row.credential_type} credential; "
            f"expected one of {', '.join(fields)}",
            "credential_key_invalid",
        )


def resolve_secret(
    session: Session,
    secret_box: SecretBox,
    credential_id: str,
    key: str,
    *,
    user_id: str | None,
    is_admin: bool,
) -> str | None:
    """The value behind a `dr-credential` variable, read at container start for the user the
    workload runs for (its creator): never a credential that user may not use.

    None when the credential was deleted since, is not theirs to use, or the field was never
    set; object-valued fields (a GCP key file) come back as their JSON text, as a file's
    content would be.
    """
    if not is_valid_id(credential_id) or user_id is None:
        return None
    row = find(session, Credential, credential_id)
    if row is None or not may_use(row, user_id=user_id, is_admin=is_admin):
        return None
    value = secret_box.open(row.encrypted_fields).get(key)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
