"""Invoke traffic from test threads, counted by answer: how tests show that a rollout
(replacement, promotion) or an autoscaler's change loses no request."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


class ParallelLoad:
    """`clients` threads, each sending requests to one URL one after another (at most `limit`
    each), every answer's status (or the transport error's name) kept in order: how an
    autoscaling test loads a workload with a known number of requests in flight."""

    def __init__(
        self, url: str, token: str, clients: int, *, timeout: float = 60, limit: int = 2_000
    ) -> None:
        self.url = url
        self.token = token
        self.clients = clients
        self.timeout = timeout
        self.limit = limit
        self.statuses: list[int | str] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(clients)

    def __enter__(self) -> ParallelLoad:
        for _ in range(self.clients):
            self._pool.submit(self._run)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=self.timeout) as client:
            for _ in range(self.limit):
                if self._stop.is_set():
                    return
                try:
                    self.statuses.append(client.get(self.url).status_code)
                except httpx.HTTPError as exc:
                    self.statuses.append(type(exc).__name__)
