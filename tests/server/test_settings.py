"""Settings refuse values the server could not use, with a message saying what to give."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from dockyard.server.settings import Settings


def test_a_secret_key_is_32_bytes_of_urlsafe_base64() -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert Settings(secret_key=key).secret_key == key
    assert Settings(secret_key=Fernet.generate_key().decode()).secret_key


@pytest.mark.parametrize(
    "bad",
    [
        "REPLACE-ME",  # deploy/kubernetes/secret.yaml's placeholder
        base64.urlsafe_b64encode(b"16 bytes, short!").decode(),
        "é" * 44,
    ],
    ids=["placeholder", "too-short", "not-ascii"],
)
def test_an_unusable_secret_key_is_refused_with_how_to_make_one(bad: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(secret_key=bad)
    assert "urlsafe_b64encode(os.urandom(32))" in str(error.value)
