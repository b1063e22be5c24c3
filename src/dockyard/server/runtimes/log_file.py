"""A container's log as whole lines: from the engine's own file when the engine runs on this
host, else from the records its API answers.

Podman's API answers logs one stream after the other with timestamps cut to the second, so
the order of a program's stdout and stderr lines within a second is lost there. Its log file
(`LogPath`, the "k8s-file" format of conmon: `<RFC 3339 nanoseconds> <stream> <P|F> <text>`,
P for a record that does not end a line) has both, in the order they were written. The docker
runtime reads it when it can and falls back to the API otherwise (another host, another
format, no permission).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from dockyard.server.runtimes.timestamps import parse_engine_time

# One record: time, stream, partial or full, text (which may be empty).
_RECORD = re.compile(r"^(\S+) (stdout|stderr) ([PF]) ?(.*)$")
_CHUNK = 64 * 1024

Entry = tuple[datetime, str, str]  # (time of the line's first record, stream, whole line)


def read_log_file(path: str | None, *, tail: int | None = None) -> list[Entry] | None:
    """Whole lines of the file in the order they were written (the last `tail` of them);
    None when the file cannot be read or is not in this format."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            text = _end_of(handle, tail) if tail is not None else handle.read()
    except OSError:
        return None
    records = text.decode("utf-8", "replace").splitlines()
    if records and _RECORD.match(records[-1]) is None:
        return None  # another format: the API reads it
    lines = list(whole_lines(records))
    return lines[-tail:] if tail is not None and tail > 0 else lines


def whole_lines(records: Iterable[str]) -> Iterator[Entry]:
    """Join each stream's partial records into the lines the program wrote."""
    pending: dict[str, tuple[datetime, str]] = {}
    for record in records:
        match = _RECORD.match(record)
        if match is None:
            continue
        stamp, stream, kind, text = match.groups()
        moment = parse_engine_time(stamp)
        if moment is None:
            continue
        if stream in pending:
            first, before = pending.pop(stream)
            moment, text = first, before + text
        if kind == "P":
            pending[stream] = (moment, text)
        else:
            yield moment, stream, text
    for stream, (moment, text) in pending.items():
        yield moment, stream, text  # the last words, written without a newline


def api_lines(frames: Iterable[bytes]) -> Iterator[tuple[datetime, str]]:
    """Lines of one stream as the program wrote them, from the engine API's log records.

    The engine stores what a program writes without a newline (`printf tick`) as a partial
    record and the rest of the line as the next one, each with its own timestamp: joining
    the records as text would put a timestamp in the middle of the line. A record that does
    not end a line is held until the one that does, and the line keeps its first timestamp."""
    pending: tuple[datetime, str] | None = None
    for frame in frames:
        for record in frame.decode("utf-8", "replace").splitlines(keepends=True):
            stamp, _, text = record.partition(" ")
            moment = parse_engine_time(stamp)
            if moment is None:
                continue
            ends = text.endswith("\n")
            text = text.rstrip("\r\n")
            if pending is not None:
                moment, text = pending[0], pending[1] + text
            if ends:
                pending = None
                yield moment, text
            else:
                pending = (moment, text)
    if pending is not None:
        yield pending  # the program's last words, without a newline


def _end_of(handle: object, lines: int) -> bytes:
    """Enough of the file's end to hold `lines` lines (partial records included)."""
    assert hasattr(handle, "seek") and hasattr(handle, "read")
    size = handle.seek(0, os.SEEK_END)
    chunk = _CHUNK
    while True:
        start = max(0, size - chunk)
        handle.seek(start)
        data: bytes = handle.read(size - start)
        if start > 0:
            data = data[data.find(b"\n") + 1 :]  # the first record is cut
        if start == 0 or data.count(b"\n") > 2 * lines:
            return data
        chunk *= 4
