"""First start: the admin user and the token the local operator signs in with."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from dockyard.server.settings import Settings
from dockyard.server.users import repository
from dockyard.server.users.models import ApiToken, User
from dockyard.server.users.tokens import generate_token, hash_token

ADMIN_USERNAME = "admin"
ADMIN_TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class BootstrapResult:
    admin_id: str
    new_token: str | None  # set only when a token was generated on this start
    token_file: Path | None  # the file holding the admin token, when there is one


def ensure_admin(session: Session, settings: Settings) -> BootstrapResult:
    admin = repository.get_user_by_username(session, ADMIN_USERNAME)
    if admin is None:
        admin = User(username=ADMIN_USERNAME, is_admin=True, full_name="Administrator")
        repository.add_user(session, admin)

    token_file = settings.home / ADMIN_TOKEN_FILE
    if settings.admin_token:
        _ensure_token(session, admin.id, settings.admin_token, "admin (DOCKYARD_ADMIN_TOKEN)")
        return BootstrapResult(admin.id, None, token_file if token_file.exists() else None)

    if repository.has_token(session, admin.id):
        return BootstrapResult(admin.id, None, token_file if token_file.exists() else None)

    token = generate_token()
    _ensure_token(session, admin.id, token, "admin (generated at first start)")
    _write_private(token_file, token + "\n")
    return BootstrapResult(admin.id, token, token_file)


def _ensure_token(session: Session, user_id: str, token: str, name: str) -> None:
    digest = hash_token(token)
    if not repository.token_hash_known(session, digest):
        repository.add_token(session, ApiToken(name=name, user_id=user_id, token_hash=digest))


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(path, 0o600)


def read_admin_token(settings: Settings) -> str | None:
    if settings.admin_token:
        return settings.admin_token
    path = settings.home / ADMIN_TOKEN_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
