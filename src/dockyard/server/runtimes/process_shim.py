"""Parent of one process-runtime container: timestamps its output and records its exit code.

Run as `python -I process_shim.py LOG EXIT WORKDIR MAX_BYTES -- COMMAND...` in its own
session, in the replica's bookkeeping directory; the command runs in WORKDIR. It outlives the
server, so a restarted server adopts the container from files alone: LOG gets one line per
output line, `<RFC 3339 time> <stdout|stderr> <text>`, at most MAX_BYTES of them (past it the
oldest half is dropped), EXIT the exit code (128+N for signal N); both are 0600.
SIGTERM and SIGINT reach the whole session (the runtime signals the process group); the
shim itself only waits for the command to finish. Standard library only: it is started by path,
so it must not import the server.

Before starting the command the shim makes itself non-dumpable, so the command cannot reach
the bookkeeping directory through `/proc/<shim>/cwd` or its open files, and, under root, empties
the capability bounding set but for CAP_NET_BIND_SERVICE: the command runs as root's uid
without root's powers (it may still bind ports below 1024).
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

MAX_LINE = 64 * 1024
PR_CAPBSET_DROP = 24
PR_SET_DUMPABLE = 4
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAP_NET_BIND_SERVICE = 10
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
DRAIN_AFTER_EXIT = 0.5  # a grandchild may keep the pipes open after the command exits


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Log:
    """The LOG file, kept under its size: past it, the oldest half of the lines goes."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.handle = self._open()
        self.size = self.handle.tell()

    def _open(self):
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(descriptor, "a", encoding="utf-8")

    def write(self, entry: str) -> None:
        self.handle.write(entry)
        self.handle.flush()
        self.size += len(entry.encode("utf-8", "replace"))
        if self.size > self.max_bytes:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.size - self.max_bytes // 2))
            kept = handle.read()
        kept = kept[kept.find(b"\n") + 1 :]  # from the first whole line
        temporary = f"{self.path}.tmp"
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(kept)
        os.replace(temporary, self.path)  # readers see the old file or the new one, whole
        self.handle.close()
        self.handle = self._open()
        self.size = len(kept)

    def close(self) -> None:
        self.handle.close()


class _LineWriter:
    def __init__(self, log: _Log, stream: str) -> None:
        self.log = log
        self.stream = stream
        self.pending = b""

    def feed(self, data: bytes) -> None:
        self.pending += data
        while b"\n" in self.pending or len(self.pending) > MAX_LINE:
            line, sep, rest = self.pending.partition(b"\n")
            if not sep:
                line, rest = self.pending[:MAX_LINE], self.pending[MAX_LINE:]
            self._write(line)
            self.pending = rest

    def close(self) -> None:
        if self.pending:
            self._write(self.pending)
            self.pending = b""

    def _write(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        self.log.write(f"{_stamp()} {self.stream} {text}\n")


def _write_exit(path: str, code: int) -> None:
    temporary = f"{path}.tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(str(code))
    os.replace(temporary, path)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]


def _harden() -> None:
    """Keep the command away from this process, and from root's powers (Linux; best effort)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if os.geteuid() != 0:
        return  # an ordinary user's command has no capabilities to lose
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = 40
    for capability in range(last + 1):
        if capability != CAP_NET_BIND_SERVICE:
            libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    # A uid-0 command gets the bounding set, plus the inheritable and ambient sets: empty those.
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) == 0:
        for half in data:
            half.inheritable = 0
        libc.capset(ctypes.byref(header), data)


def main(argv: list[str]) -> int:
    log_path, exit_path, workdir, max_bytes, separator, *command = argv
    if separator != "--" or not command or not max_bytes.isdigit():
        print("usage: process_shim.py LOG EXIT WORKDIR MAX_BYTES -- COMMAND...", file=sys.stderr)
        return 2
    _harden()
    # A Python-level handler (unlike SIG_IGN) is reset to the default in the exec'd command.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    log = _Log(log_path, int(max_bytes))
    try:
        try:
            child = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            _LineWriter(log, "stderr").feed(f"cannot start {command[0]}: {error}\n".encode())
            _write_exit(exit_path, 127)
            return 127
        assert child.stdout is not None and child.stderr is not None  # both are pipes
        writers = {
            child.stdout.fileno(): _LineWriter(log, "stdout"),
            child.stderr.fileno(): _LineWriter(log, "stderr"),
        }
        selector = selectors.DefaultSelector()
        for pipe in writers:
            selector.register(pipe, selectors.EVENT_READ)
        exited_at: float | None = None
        while selector.get_map():
            for key, _ in selector.select(timeout=0.2):
                data = os.read(key.fd, 65536)
                if data:
                    writers[key.fd].feed(data)
                else:
                    selector.unregister(key.fileobj)
            if exited_at is None and child.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                break
        for writer in writers.values():
            writer.close()
        code = child.wait()
    finally:
        log.close()
    _write_exit(exit_path, 128 - code if code < 0 else code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
