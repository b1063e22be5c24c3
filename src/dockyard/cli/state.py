"""What the global options decide, shared by every command of one invocation."""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

import typer

from dockyard.sdk import Client


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass
class State:
    output: OutputFormat = OutputFormat.TEXT
    yes: bool = False
    debug: bool = False
    profile: str | None = None

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.JSON

    def client(self) -> Client:
        return Client(profile=self.profile)


_state: ContextVar[State | None] = ContextVar("dockyard_cli_state", default=None)


def begin(state: State) -> None:
    """Called by the root callback at the start of every invocation."""
    _state.set(state)


def current() -> State:
    """The state of the running invocation (defaults when a command runs on its own)."""
    found = _state.get()
    if found is not None:
        return found
    return State(debug=os.environ.get("DOCKYARD_DEBUG") == "1")


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying something, unless --yes was given anywhere."""
    if yes or current().yes:
        return
    typer.confirm(question, abort=True, err=True)
