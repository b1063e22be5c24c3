"""Workload logs: the stdout/stderr of every replica, newest first, or followed as NDJSON.

Logs are not stored by Dockyard: each request reads them from the runtime (container logs,
the process runtime's log files, the fake runtime's memory), so they live exactly as long as
the runtime objects of the workload's protons do.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dockyard.core.errors import ValidationFailed
from dockyard.core.spec import parse_stored
from dockyard.core.workloads import LogEntry, Workload
from dockyard.server.db.session import Database
from dockyard.server.kit.auth import Principal
from dockyard.server.kit.clock import isoformat
from dockyard.server.kit.pagination import PageParams
from dockyard.server.kit.repository import get_by_id
from dockyard.server.runtimes.base import LogLine, Runtime, RuntimeFailure
from dockyard.server.sharing.roles import Right
from dockyard.server.workloads import repository
from dockyard.server.workloads.models import Proton
from dockyard.server.workloads.models import Workload as WorkloadRow
from dockyard.server.workloads.service import require
from dockyard.server.workloads.statuses import FINISHED, Status

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_SYNONYMS = {"WARN": "WARNING", "FATAL": "CRITICAL"}
# A level word at the very start of a line, optionally bracketed: "ERROR x", "[warn] x", "INFO: x".
_LEADING_LEVEL = re.compile(r"^\s*[\[(]?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b", re.I)

FOLLOW_POLL_SECONDS = 0.5
FOLLOW_MAX_SECONDS = 3600  # a followed stream ends after this, so no request lives forever


@dataclass(frozen=True)
class LineFacts:
    """What a line says about itself: its level and, for a JSON line, its trace fields."""

    level: str
    span_id: str | None = None
    trace_id: str | None = None
    stacktrace: str | None = None


@dataclass(frozen=True)
class LogQuery:
    min_level: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    span_id: str | None = None
    trace_id: str | None = None

    def accepts(self, line: LogLine, facts: LineFacts) -> bool:
        if LEVELS[facts.level] < self.min_level:
            return False
        if self.start_time is not None or self.end_time is not None:
            moment = _aware(line.timestamp)
            if self.start_time is not None and moment < self.start_time:
                return False
            if self.end_time is not None and moment > self.end_time:
                return False
        if self.includes and not any(text in line.message for text in self.includes):
            return False
        if any(text in line.message for text in self.excludes):
            return False
        if self.span_id is not None and facts.span_id != self.span_id:
            return False
        return self.trace_id is None or facts.trace_id == self.trace_id


def build_query(
    level: str | None,
    start_time: str | None,
    includes: list[str] | None,
    *,
    end_time: str | None = None,
    excludes: list[str] | None = None,
    span_id: str | None = None,
    trace_id: str | None = None,
) -> LogQuery:
    """Check the filters (422 with their path when unusable)."""
    minimum = 0
    if level:
        name = _SYNONYMS.get(level.strip().upper(), level.strip().upper())
        if name not in LEVELS:
            raise ValidationFailed.at(
                ["query", "level"], f"level must be one of {', '.join(LEVELS)} (or WARN)"
            )
        minimum = LEVELS[name]
    start = _moment(start_time, "startTime")
    end = _moment(end_time, "endTime")
    if start is not None and end is not None and end < start:
        raise ValidationFailed.at(["query", "endTime"], "endTime is before startTime")
    return LogQuery(
        min_level=minimum,
        start_time=start,
        end_time=end,
        includes=tuple(text for text in includes or () if text),
        excludes=tuple(text for text in excludes or () if text),
        span_id=span_id or None,
        trace_id=trace_id or None,
    )


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ValidationFailed.at(["query", name], f"{name} must be an RFC 3339 time") from None


def facts_of(line: LogLine, *, by_stream: bool = False) -> LineFacts:
    """The level and trace fields of a line (`{"level": …, "trace_id": …}` lines included).

    `by_stream`: a task's line, whose level is its stream's whatever its text says (clients
    of tasks tell the program's stderr from its stdout by the level)."""
    fields = _json_fields(line.message)
    if by_stream:
        level: str | None = stream_level(line)
    else:
        level = _level_word(
            fields.get("level") or fields.get("levelname") or fields.get("severity")
        )
    if level is None:
        level = level_of(line)
    return LineFacts(
        level=level,
        span_id=_text(fields.get("span_id", fields.get("spanId"))),
        trace_id=_text(fields.get("trace_id", fields.get("traceId"))),
        stacktrace=_text(
            fields.get("stacktrace", fields.get("stack_trace", fields.get("exc_info")))
        ),
    )


def _json_fields(message: str) -> dict[str, Any]:
    # Structured loggers write one JSON object per line; anything else is plain text.
    text = message.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _level_word(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().upper()
    word = _SYNONYMS.get(word, word)
    return word if word in LEVELS else None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    return None


def level_of(line: LogLine) -> str:
    """The leading level word of the message, else INFO for stdout and ERROR for stderr."""
    match = _LEADING_LEVEL.match(line.message)
    if match:
        word = match.group(1).upper()
        return _SYNONYMS.get(word, word)
    return stream_level(line)


def stream_level(line: LogLine) -> str:
    return "ERROR" if line.stream == "stderr" else "INFO"


def to_entry(line: LogLine, facts: LineFacts) -> LogEntry:
    return LogEntry(
        timestamp=isoformat(line.timestamp) or "",
        level=facts.level,
        message=line.message,
        replica=line.replica,
        stream=line.stream,
        span_id=facts.span_id,
        trace_id=facts.trace_id,
        stacktrace=facts.stacktrace,
    )


@dataclass(frozen=True)
class LogSource:
    """Where a workload's lines are read, and how their levels are told."""

    proton_ids: list[str]  # every proton of the workload, newest first
    by_stream: bool = False  # a task: levels come from the stream alone


def log_source(session: Session, principal: Principal, workload_id: str) -> LogSource:
    """The protons of a workload the caller may view (404 otherwise), newest first."""
    workload = require(session, principal, workload_id, Right.VIEW)
    protons = repository.protons_of(session, workload_id)
    # A declared task, or a workload that ended as one (its status says so).
    task = Status(workload.status) in FINISHED or any(
        proton.task for proton in protons if proton.role == "active"
    )
    return LogSource([proton.id for proton in protons], by_stream=task)


def read_lines(runtime: Runtime, protons: Iterable[str], since: datetime | None) -> list[LogLine]:
    """Lines of every replica of these protons, oldest first; an engine error reads as none."""
    lines: list[LogLine] = []
    for proton_id in protons:
        try:
            lines.extend(runtime.logs(proton_id, since))
        except (RuntimeFailure, OSError):
            # The engine is down, or the objects went while being read (a collection): no
            # lines rather than a 500.
            continue
    lines.sort(key=lambda line: _aware(line.timestamp))
    return lines


TAIL_LINES = 50  # statusDetails.logTail: the reference's length


@dataclass(frozen=True)
class TailSource:
    """Where a workload's `statusDetails.logTail` is read: its active proton's primary."""

    proton_id: str
    container: str


def tail_source(proton: Proton | None) -> TailSource | None:
    """The primary container of the proton's first group: the workload's own output."""
    spec = parse_stored(proton.spec) if proton is not None else None
    if proton is None or spec is None:
        return None  # nothing ran, or a spec no runtime was given (the reconciler says why)
    return TailSource(proton.id, spec.container_groups[0].primary.filled_name)


async def fill_log_tail(
    runtime: Runtime, workload: Workload, source: TailSource | None
) -> Workload:
    """Put the primary's current output in `statusDetails.logTail`, read from the runtime
    after the request's transaction (a slow engine holds no database connection).

    With no output there (nothing started, or the engine is away) the tail the reconciler
    kept stays, so an image that could not be pulled still shows why."""
    if source is None:
        return workload
    lines = await run_in_threadpool(_tail, runtime, source)
    if lines:
        workload.status_details.log_tail = lines
    return workload


def _tail(runtime: Runtime, source: TailSource) -> list[str]:
    try:
        found = runtime.tail(source.proton_id, source.container, TAIL_LINES)
    except (RuntimeFailure, OSError):
        return []
    return [line.message for line in found]


def newest_first(
    lines: list[LogLine], query: LogQuery, paging: PageParams, *, by_stream: bool = False
) -> tuple[list[LogEntry], int]:
    matching = [
        (line, facts)
        for line in lines
        if query.accepts(line, facts := facts_of(line, by_stream=by_stream))
    ]
    matching.reverse()
    window = matching[paging.offset : paging.offset + paging.limit]
    return [to_entry(line, facts) for line, facts in window], len(matching)


async def follow(
    db: Database,
    runtime: Runtime,
    workload_id: str,
    query: LogQuery,
    *,
    backlog: int,
    max_seconds: float,
    is_disconnected: Callable[[], Awaitable[bool]],  # the request's
    by_stream: bool = False,
) -> AsyncIterator[bytes]:
    """NDJSON: the last `backlog` matching lines (oldest first), then new lines as they come.

    Polls the runtime; stops when the client goes away, the workload is deleted, or after
    `max_seconds`. Lines at the cursor's timestamp are remembered so none repeats.
    """
    deadline = time.monotonic() + max_seconds
    cursor: datetime | None = None
    seen_at_cursor: set[tuple[str, str, str, str]] = set()
    first = True
    while True:
        protons = await db.run(_current_protons, db, workload_id)
        if protons is None:
            return
        lines = await run_in_threadpool(read_lines, runtime, protons, cursor)
        fresh = []
        for line in lines:
            moment = _aware(line.timestamp)
            key = (line.replica, line.container, line.stream, line.message)
            if cursor is not None and (
                moment < cursor or (moment == cursor and key in seen_at_cursor)
            ):
                continue
            if cursor is None or moment > cursor:
                cursor, seen_at_cursor = moment, set()
            seen_at_cursor.add(key)
            fresh.append(line)
        chosen = [
            (line, facts)
            for line in fresh
            if query.accepts(line, facts := facts_of(line, by_stream=by_stream))
        ]
        if first:
            chosen = chosen[-backlog:] if backlog else []
            first = False
        for line, facts in chosen:
            yield (json.dumps(to_entry(line, facts).model_dump(by_alias=True)) + "\n").encode()
        if time.monotonic() >= deadline or await is_disconnected():
            return
        await asyncio.sleep(min(FOLLOW_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _current_protons(db: Database, workload_id: str) -> list[str] | None:
    # A new start makes a new proton: look again each poll so a followed stream keeps up.
    with db.unit_of_work(write=False) as session:
        if get_by_id(session, WorkloadRow, workload_id) is None:
            return None
        return [proton.id for proton in repository.protons_of(session, workload_id)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
