"""The data dir is private: 0700, and Dockyard's files in it 0600, however permissive the umask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.server.app import create_app
from dockyard.server.settings import Settings


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # a usual login umask: files 0644 unless Dockyard says otherwise
    yield
    os.umask(previous)


def _modes(home: Path) -> dict[str, int]:
    found = {".": home.stat().st_mode & 0o777}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = path.stat().st_mode & 0o777
    return found


def _start(home: Path) -> None:
    app = create_app(Settings(home=home, runtime="process"), run_reconciler=False)
    app.state.db.dispose()


def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"

    _start(home)

    modes = _modes(home)
    for name in ("secret-key", "admin-token", "dockyard.db", "instance_id"):
        assert modes.pop(name) == 0o600, name
    assert modes.pop(".") == 0o700
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert not loose, f"readable by others: {loose}"


def test_an_older_loose_data_dir_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _start(home)
    home.chmod(0o755)
    for name in ("secret-key", "admin-token", "dockyard.db"):
        (home / name).chmod(0o644)
    (home / "runtime").chmod(0o755)

    _start(home)

    modes = _modes(home)
    assert modes["."] == 0o700 and modes["runtime"] == 0o700
    assert [modes[n] for n in ("secret-key", "admin-token", "dockyard.db")] == [0o600] * 3


def test_a_database_outside_the_data_dir_is_private_too(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "dockyard.db"
    app = create_app(
        Settings(home=tmp_path / "home", database_url=f"sqlite:///{database}", runtime="fake"),
        run_reconciler=False,
    )
    app.state.db.dispose()

    assert database.stat().st_mode & 0o777 == 0o600
