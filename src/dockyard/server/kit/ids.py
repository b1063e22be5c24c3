"""Object ids shaped like the hosted API's: 24 hex characters, time-ordered."""

from __future__ import annotations

import re
import secrets
import time

ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")


def new_id() -> str:
    # Seconds first (like an ObjectId) so ids sort roughly by creation; 64 random bits after.
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def is_valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
