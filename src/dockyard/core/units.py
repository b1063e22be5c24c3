"""Quantities written the way the Workload API accepts them."""

from __future__ import annotations

import math
import re

# 1 PiB: far above any machine's memory, far below where arithmetic or an engine's int64 breaks.
MAX_MEMORY_BYTES = 2**50
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_FACTORS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}


def parse_memory(value: int | float | str) -> int:
    """Bytes from an int or a string such as "512MB", "1.5GB", "512Mi" or "2GiB"."""
    if isinstance(value, bool):
        raise ValueError("memory must be a number of bytes or a string with a unit")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("memory must not be negative")
        return _bounded(value)
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"cannot read memory quantity {value!r} (e.g. 512MB, 1GiB, 1073741824)")
    number, unit = match.groups()
    factor = _FACTORS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown memory unit {unit!r}; use B, KB, MB, GB, Ki, Mi or Gi")
    return _bounded(float(number) * factor)


def _bounded(amount: float) -> int:
    # A 400-digit quantity is infinite as a float and an OverflowError as an int: refuse it.
    if amount > MAX_MEMORY_BYTES or math.isnan(amount):
        raise ValueError(f"memory must be at most {MAX_MEMORY_BYTES} bytes (1 PiB)")
    return int(amount)
