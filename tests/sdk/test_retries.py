"""Connection errors: idempotent calls are retried, others only when nothing was sent."""

from __future__ import annotations

import httpx
import pytest

from dockyard.sdk import Client, ConnectionFailed
from tests.sdk.live_server import LiveServer, free_port, http_app_spec, unique


class Flaky(httpx.BaseTransport):
    """Fails the first `failures` requests with `error`, then sends for real."""

    def __init__(self, failures: int, error: type[httpx.TransportError]) -> None:
        self.failures = failures
        self.error = error
        self.attempts: list[str] = []
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts.append(request.method)
        if len(self.attempts) <= self.failures:
            raise self.error("simulated", request=request)
        return self.real.handle_request(request)


def _client(server: LiveServer, transport: Flaky, retries: int = 3) -> Client:
    return Client(server.url, server.token, transport=transport, retries=retries)


def test_a_get_is_retried_after_connection_errors(server: LiveServer) -> None:
    flaky = Flaky(2, httpx.ReadError)
    with _client(server, flaky) as client:
        assert client.users.me().username == "admin"
    assert flaky.attempts == ["GET", "GET", "GET"]


def test_a_post_is_retried_only_when_it_was_never_sent(server: LiveServer) -> None:
    refused = Flaky(1, httpx.ConnectError)
    with _client(server, refused) as client:
        client.artifacts.create(name=unique("retry"), spec=http_app_spec())
    assert refused.attempts == ["POST", "POST"]

    # A read error after sending may mean the server acted: never sent twice.
    cut = Flaky(1, httpx.ReadError)
    with _client(server, cut) as client, pytest.raises(ConnectionFailed):
        client.artifacts.create(name=unique("retry"), spec=http_app_spec())
    assert cut.attempts == ["POST"]


def test_giving_up_raises_connection_failed(server: LiveServer) -> None:
    flaky = Flaky(10, httpx.ConnectError)
    with _client(server, flaky, retries=2) as client, pytest.raises(ConnectionFailed) as failed:
        client.artifacts.get("0" * 24)
    assert len(flaky.attempts) == 3
    assert failed.value.code == "connection_failed"


def test_a_server_that_is_down() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", "t", retries=1)
    with client, pytest.raises(ConnectionFailed, match="Cannot reach"):
        client.users.me()
