"""How results reach the terminal: Rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from dockyard.sdk.errors import DockyardError, IgnoredFieldWarning


def out() -> Console:
    # Made per call so tests that swap sys.stdout see the output; wide when piped, so ids and
    # URLs are never cut.
    return Console(
        highlight=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200
    )


def err() -> Console:
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_json(value), indent=2) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(to_json(value)) + "\n")
    sys.stdout.flush()


def print_fields(rows: Sequence[tuple[str, Any]]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, "" if value is None else str(value))
    out().print(table)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> None:
    rows = list(rows)
    if not rows:
        err().print(empty)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out().print(table)


def say(text: str) -> None:
    """A plain result line on stdout (no markup interpretation)."""
    out().print(text, markup=False)


def note(text: str) -> None:
    """A remark for the person at the terminal, on stderr so pipes stay clean."""
    err().print(text, markup=False)


def tags_text(tags: Iterable[Any]) -> str:
    return ", ".join(f"{tag.name}={tag.value}" for tag in tags)


def error_fields(error: BaseException) -> dict[str, Any]:
    if isinstance(error, DockyardError):
        fields: dict[str, Any] = {
            "status": error.status_code or None,
            "code": error.code,
            "message": error.message,
            "detail": error.detail,
        }
        if error.blockers:
            fields["blockers"] = error.blockers
        return fields
    return {"status": None, "code": "invalid_input", "message": _local_message(error)}


def print_error(error: BaseException, *, as_json: bool) -> None:
    fields = error_fields(error)
    if as_json:
        print_json({"error": fields})
        return
    err().print(f"Error: {one_line(fields)}", markup=False)


def one_line(fields: dict[str, Any]) -> str:
    message = str(fields["message"])
    detail = fields.get("detail")
    if isinstance(detail, list) and detail:
        # Validation: say where, for each problem.
        message = "invalid input: " + "; ".join(_problem(item) for item in detail[:5])
    blockers = fields.get("blockers") or []
    if blockers:
        names = ", ".join(
            f"{b.get('type')} {b.get('name') or ''} ({b.get('id')})" for b in blockers
        )
        message += f" Blocked by: {names}."
    if fields.get("status"):
        message += f" [HTTP {fields['status']}, {fields['code']}]"
    return " ".join(message.split())


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part != "body"]
    return f"{'.'.join(loc) or 'body'}: {item.get('msg')}"


def _local_message(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        problems = [_problem({"loc": e["loc"], "msg": e["msg"]}) for e in error.errors()[:5]]
        return f"invalid {error.title}: " + "; ".join(problems)
    if isinstance(error, FileNotFoundError):
        return f"No such file: {error.filename}"
    if isinstance(error, OSError) and error.filename:
        return f"Cannot read {error.filename}: {error.strerror}"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, IgnoredFieldWarning):
        note(f"warning: {message}")
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def show_server_warnings() -> None:
    """Every field the server ignored is named on stderr, so a typo in a spec is seen."""
    warnings.simplefilter("always", IgnoredFieldWarning)
    warnings.showwarning = _show_warning
