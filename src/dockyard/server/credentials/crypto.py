"""The server's secret key: encryption of credential secrets at rest (Fernet: AES-128-CBC with
HMAC-SHA256), and keys derived from it for other purposes (the deployment audit chain)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dockyard.server.settings import Settings

SECRET_KEY_FILE = "secret-key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def for_settings(cls, settings: Settings) -> SecretBox:
        return cls(server_secret(settings))

    def seal(self, fields: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(fields).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise RuntimeError(
                "A stored credential cannot be decrypted: the secret key has changed."
            ) from exc


def server_secret(settings: Settings) -> bytes:
    """`DOCKYARD_SECRET_KEY`, or the key kept in the data dir (created on first use)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    return _key_from_file(settings.home / SECRET_KEY_FILE)


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (HKDF-SHA256, the purpose as its label).

    Each use of the server's secret gets its own key, so a value made for one purpose (an
    audit seal, say) can never be replayed as another (a Fernet token).
    """
    label = f"dockyard/{purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)


def _key_from_file(path: Path) -> bytes:
    """The key kept in the data dir, created (0600) on first use.

    Several processes may start at once on one data dir: the key is written to a private
    temporary file and linked into place, so no one ever reads a half-written key, and a
    process that loses the race reads the winner's key instead of sealing with its own.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return _read_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if not key:
        raise RuntimeError(f"The secret key file {path} is empty.")
    return key
