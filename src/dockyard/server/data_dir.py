"""The data dir holds the server's secrets: it is private to the user who runs Dockyard.

Created 0700 under umask 077, so what lands in it (SQLite database and journal, secret key,
admin token, runtime files) is 0600 from the first byte. A data dir an older version left
readable by others is tightened at start: the directory itself and Dockyard's own files in it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PRIVATE_UMASK = 0o077
# Dockyard's files at the top of the data dir (the rest are directories it made).
OWN_FILES = (
    "secret-key",
    "admin-token",
    "instance_id",
    "dockyard.db",
    "dockyard.db-wal",
    "dockyard.db-shm",
)


@contextmanager
def private_umask() -> Iterator[None]:
    """Everything created inside is readable by its owner only.

    The umask is per process: meant for start-up, before other threads create files."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def prepare(home: Path) -> None:
    """Create the data dir (0700), or make an existing one private; tighten its files."""
    with private_umask():
        home.mkdir(parents=True, exist_ok=True)
    _tighten(home, 0o700)
    for name in OWN_FILES:
        _tighten(home / name, 0o600)
    for child in home.iterdir():
        if child.is_dir() and not child.is_symlink():
            _tighten(child, 0o700)


def private_sqlite(database_url: str) -> None:
    """An SQLite database kept outside the data dir is made 0600 too (with its WAL files)."""
    if not database_url.startswith("sqlite:///"):
        return
    path = Path(database_url.removeprefix("sqlite:///").split("?", 1)[0])
    for suffix in ("", "-wal", "-shm"):
        _tighten(Path(f"{path}{suffix}"), 0o600)


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions from what this user owns; leave anything else be."""
    with suppress(FileNotFoundError):
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode) or status.st_uid != os.getuid():
            return
        if status.st_mode & 0o077:
            path.chmod(mode)
