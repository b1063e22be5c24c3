"""The secret key: from the environment, or a private file created once, even under a race."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from dockyard.server.credentials.crypto import SECRET_KEY_FILE, SecretBox
from dockyard.server.settings import Settings


def _settings(home: Path, **fields: object) -> Settings:
    return Settings(home=home, database_url="sqlite://", **{"secret_key": None, **fields})


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    first = SecretBox.for_settings(_settings(tmp_path))
    path = tmp_path / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.seal({"token": "t"})
    assert SecretBox.for_settings(_settings(tmp_path)).open(sealed) == {"token": "t"}
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]  # no temporary left over


def test_key_from_the_environment_wins(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox.for_settings(_settings(tmp_path, secret_key=key))
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    assert Fernet(key.encode()).decrypt(box.seal({"a": 1}).encode()) == b'{"a": 1}'


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    boxes: list[SecretBox] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        boxes.append(SecretBox.for_settings(_settings(tmp_path)))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sealed = boxes[0].seal({"x": "y"})
    assert all(box.open(sealed) == {"x": "y"} for box in boxes)


def test_losing_the_race_reads_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deterministic version of the race: the file appears between the read and the link.
    winner = Fernet.generate_key()
    real_link = os.link

    def link_after_winner(src: str, dst: str) -> None:
        Path(dst).write_bytes(winner)
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link_after_winner)
    box = SecretBox.for_settings(_settings(tmp_path))
    assert Fernet(winner).decrypt(box.seal({"k": "v"}).encode()) == b'{"k": "v"}'


def test_a_changed_key_is_reported_clearly(tmp_path: Path) -> None:
    sealed = SecretBox(Fernet.generate_key()).seal({"a": "b"})
    with pytest.raises(RuntimeError, match="secret key has changed"):
        SecretBox(Fernet.generate_key()).open(sealed)
