"""Steady invoke traffic from a thread, counted by answer: how tests show that a rollout
(replacement, promotion) loses no request."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx


class LoadLoop:
    """Requests one URL back to back from a thread and counts the answers by status (and,
    for 200s, by the `greeting` the test workload answers with)."""

    def __init__(self, url: str, token: str, limit: int = 20_000) -> None:
        self.url = url
        self.limit = limit  # bounded: the loop stops by itself even if never told to
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.statuses: Counter[int | str] = Counter()
        self.greetings: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)
        self.client.close()

    def _run(self) -> None:
        for _ in range(self.limit):
            if self._stop.is_set():
                return
            try:
                response = self.client.get(self.url)
                self.statuses[response.status_code] += 1
                if response.status_code == 200:
                    self.greetings[response.json()["greeting"]] += 1
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1

    @property
    def failures(self) -> dict[Any, int]:
        return {status: n for status, n in self.statuses.items() if status != 200}
