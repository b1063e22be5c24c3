"""Engine timestamps (RFC 3339 with up to nanoseconds) to aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_engine_time(text: str | None) -> datetime | None:
    """None for missing, unparsable or the engines' "never" (year 1)."""
    if not text:
        return None
    match = _STAMP.match(text.strip())
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]  # Python keeps microseconds, engines nanoseconds
    zone = "+00:00" if zone == "Z" else zone
    moment = datetime.fromisoformat(f"{whole}.{micros}{zone}").astimezone(UTC)
    return None if moment.year <= 1 else moment


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
