"""Encryption of credential secrets at rest (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from dockyard.server.settings import Settings

SECRET_KEY_FILE = "secret-key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_key:
            return cls(settings.secret_key.encode())
        return cls(_key_from_file(settings.home / SECRET_KEY_FILE))

    def seal(self, fields: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(fields).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise RuntimeError(
                "A stored credential cannot be decrypted: the secret key has changed."
            ) from exc


def _key_from_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
