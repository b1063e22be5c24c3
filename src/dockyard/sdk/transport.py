"""One description of each API call, two ways of running it (blocking and asyncio).

Resource methods are written once as generators ("operations") that yield `Call`s and
`Pause`s and receive the decoded answers; `SyncRunner` and `AsyncRunner` drive them over
httpx. So `Client` and `AsyncClient` share every line of request-building and parsing code,
and each only owns its I/O: sending, sleeping, retrying.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from dockyard.sdk.errors import (
    ConnectionFailed,
    DockyardError,
    IgnoredFieldWarning,
    error_for,
    server_warnings,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Methods that may be sent twice without changing the outcome: these are retried whenever the
# connection fails. Others (POST, PATCH) are retried only when the request never left.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # below /api/v2, e.g. "/artifacts/abc"
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bool = False  # hand back the httpx.Response as is (invoke), errors included


@dataclass(frozen=True)
class Pause:
    seconds: float


Operation = Generator[Call | Pause, Any, T]


def fetch(call: Call) -> Operation[Any]:
    """The simplest operation: one call, its decoded body."""
    return (yield call)


def parse(call: Call, model: type[M]) -> Operation[M]:
    """One call, its body validated as `model`."""
    body = yield call
    return model.model_validate(body)


def discard(call: Call) -> Operation[None]:
    """One call whose answer does not matter (DELETE)."""
    yield call
    return None


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    backoff: float = 0.25  # seconds before the second try, doubled after each

    def delays(self) -> Iterator[float]:
        for attempt in range(self.attempts - 1):
            yield self.backoff * (2**attempt)


def _may_retry(call: Call, error: httpx.TransportError) -> bool:
    return call.method in IDEMPOTENT or isinstance(error, NOT_SENT)


def _decode(call: Call, response: httpx.Response) -> Any:
    if call.raw:
        return response
    for text in server_warnings(response):
        # Shown once per distinct text by Python's default filter; the CLI prints every one.
        warnings.warn(f"{call.method} {call.path}: {text}", IgnoredFieldWarning, stacklevel=2)
    if response.status_code >= 400:
        raise error_for(response)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _request_args(call: Call) -> dict[str, Any]:
    args: dict[str, Any] = {"params": _clean(call.params), "headers": call.headers or None}
    if call.content is not None:
        args["content"] = call.content
    elif call.json is not None:
        args["json"] = call.json
    return args


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: v for k, v in params.items() if v is not None and v != []}


def _unreachable(base: str, error: httpx.TransportError) -> ConnectionFailed:
    return ConnectionFailed(
        f"Cannot reach the Dockyard server at {base}: {str(error) or type(error).__name__}"
    )


class SyncRunner:
    def __init__(self, http: httpx.Client, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry

    def run(self, operation: Operation[T]) -> T:
        try:
            step = next(operation)
            while True:
                try:
                    answer = self._do(step)
                except DockyardError as error:
                    step = operation.throw(error)
                else:
                    step = operation.send(answer)
        except StopIteration as done:
            return done.value

    def _do(self, step: Call | Pause) -> Any:
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            return None
        return _decode(step, self.send(step))

    def send(self, call: Call) -> httpx.Response:
        delays = self.retry.delays()
        while True:
            try:
                return self.http.request(call.method, call.path, **_request_args(call))
            except httpx.TransportError as error:
                delay = next(delays, None)
                if delay is None or not _may_retry(call, error):
                    raise _unreachable(str(self.http.base_url), error) from error
                time.sleep(delay)

    def stream_lines(self, call: Call) -> Iterator[dict[str, Any]]:
        """NDJSON objects of a streamed answer, as they arrive."""
        try:
            with self.http.stream(call.method, call.path, **_request_args(call)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_for(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as error:
            raise _unreachable(str(self.http.base_url), error) from error


class AsyncRunner:
    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy) -> None:
        self.http = http
        self.retry = retry

    async def run(self, operation: Operation[T]) -> T:
        try:
            step = next(operation)
            while True:
                try:
                    answer = await self._do(step)
                except DockyardError as error:
                    step = operation.throw(error)
                else:
                    step = operation.send(answer)
        except StopIteration as done:
            return done.value

    async def _do(self, step: Call | Pause) -> Any:
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            return None
        return _decode(step, await self.send(step))

    async def send(self, call: Call) -> httpx.Response:
        delays = self.retry.delays()
        while True:
            try:
                return await self.http.request(call.method, call.path, **_request_args(call))
            except httpx.TransportError as error:
                delay = next(delays, None)
                if delay is None or not _may_retry(call, error):
                    raise _unreachable(str(self.http.base_url), error) from error
                await asyncio.sleep(delay)

    async def stream_lines(self, call: Call) -> AsyncIterator[dict[str, Any]]:
        try:
            async with self.http.stream(call.method, call.path, **_request_args(call)) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_for(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as error:
            raise _unreachable(str(self.http.base_url), error) from error
