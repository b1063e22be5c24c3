"""Processes by pid, safely: a pid file may outlive its process and the pid be reused."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path

_PROC = Path("/proc")
_PR_SET_DUMPABLE = 4


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot), or None without /proc."""
    stat = _stat(pid)
    return int(stat[19]) if stat else None


def alive(pid: int, ticks: int | None) -> bool:
    """True when `pid` still runs and is the same process that was recorded."""
    stat = _stat(pid)
    if stat is not None:
        state, started = stat[0], int(stat[19])
        return state not in ("Z", "X") and (ticks is None or started == ticks)
    if _PROC.joinpath("self").exists():
        return False  # /proc works and has no such pid
    try:  # no /proc (macOS): existence is all that can be checked
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gone(pid: int) -> bool:
    """True when no process has this pid (so a group it led holds only its orphans)."""
    return _PROC.joinpath("self").exists() and _stat(pid) is None


def signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the session the process leads (the runtime starts each in its own)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _stat(pid: int) -> list[str] | None:
    try:
        text = _PROC.joinpath(str(pid), "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return text[text.rindex(")") + 2 :].split()


def hide_from_children() -> None:
    """Make this process non-dumpable (Linux), as ssh-agent does.

    Processes it starts run as the same user; without this they could read its memory and the
    environment it started with (`/proc/<pid>/environ`, which keeps `DOCKYARD_ADMIN_TOKEN`
    whatever `os.environ` says later). Non-dumpable, only a process holding CAP_SYS_PTRACE
    can. The price: no core dumps, and a debugger needs root."""
    if sys.platform != "linux":
        return
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
