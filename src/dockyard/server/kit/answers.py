"""A question a lower package asks and a higher package answers.

The server's packages depend one way (docs/architecture.md, "Packages depend one way"), yet
some rules of a lower package need facts only a higher one holds: an artifact a workload runs
may not be deleted, and artifacts come before workloads. So the lower package states what it
needs to know as a `Protocol` and holds an `Answer` to it; the higher package implements the
protocol, and the server's assembly (`dockyard.server.app.create_app`) gives it. The answers
are code, not state, so one per process serves every app in it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Answer(Generic[T]):
    def __init__(self, question: str) -> None:
        self.question = question
        self._given: T | None = None

    def give(self, answer: T) -> None:
        self._given = answer

    def get(self) -> T:
        """The answer given. Without one a rule would pass unchecked (an artifact deleted from
        under its workloads), so asking before the server is assembled fails instead."""
        if self._given is None:
            raise RuntimeError(
                f"nothing answers {self.question!r}: the server's assembly "
                "(dockyard.server.app.create_app) gives the answer before any request"
            )
        return self._given
