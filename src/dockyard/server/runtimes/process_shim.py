"""Parent of one process-runtime container: timestamps its output and records its exit code.

Run as `python -I process_shim.py LOG EXIT -- COMMAND...` in its own session. It outlives the
server, so a restarted server adopts the container from files alone: LOG gets one line per
output line, `<RFC 3339 time> <stdout|stderr> <text>`, EXIT the exit code (128+N for signal N).
SIGTERM and SIGINT reach the whole session (the runtime signals the process group); the shim
itself only waits for the command to finish. Standard library only: it is started by path, so
it must not import the server.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

MAX_LINE = 64 * 1024
DRAIN_AFTER_EXIT = 0.5  # a grandchild may keep the pipes open after the command exits


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _LineWriter:
    def __init__(self, log, stream: str) -> None:
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
        self.log.flush()


def _write_exit(path: str, code: int) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        handle.write(str(code))
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    log_path, exit_path, separator, *command = argv
    if separator != "--" or not command:
        print("usage: process_shim.py LOG EXIT -- COMMAND...", file=sys.stderr)
        return 2
    # A Python-level handler (unlike SIG_IGN) is reset to the default in the exec'd command.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    with open(log_path, "a", encoding="utf-8") as log:
        try:
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as error:
            _LineWriter(log, "stderr").feed(f"cannot start {command[0]}: {error}\n".encode())
            _write_exit(exit_path, 127)
            return 127
        writers = {
            child.stdout: _LineWriter(log, "stdout"),
            child.stderr: _LineWriter(log, "stderr"),
        }
        selector = selectors.DefaultSelector()
        for pipe in writers:
            selector.register(pipe, selectors.EVENT_READ)
        exited_at: float | None = None
        while selector.get_map():
            for key, _ in selector.select(timeout=0.2):
                data = os.read(key.fileobj.fileno(), 65536)
                if data:
                    writers[key.fileobj].feed(data)
                else:
                    selector.unregister(key.fileobj)
            if exited_at is None and child.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                break
        for writer in writers.values():
            writer.close()
        code = child.wait()
    _write_exit(exit_path, 128 - code if code < 0 else code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
