"""Request size limits: bodies (413, while streaming) and heads (431, on every route).

The head limit lives in the HTTP protocol `dockyard serve` runs, so those tests go through a
real `dockyard serve` (subprocess, fake runtime); the body limit is in the application and is
also checked through the test client, on both databases.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from bench.measure import Server
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.kit.http_protocol import HeadLimitedHttpProtocol
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def small_limit(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"max_body_bytes": 4 * KiB}), run_reconciler=False)
    with TestClient(app, headers=AUTH) as client:
        yield client
    app.state.db.dispose()


def test_a_body_over_the_limit_is_413_and_changes_nothing(client: TestClient) -> None:
    body = {"name": "big", "description": "x" * (MiB + 1), "spec": service_spec()}
    response = client.post("/api/v2/artifacts", json=body)
    assert response.status_code == 413
    error = response.json()
    assert error["code"] == "payload_too_large"
    assert "1048576 bytes" in error["message"] and error["detail"] == error["message"]
    assert client.get("/api/v2/artifacts").json()["totalCount"] == 0


def test_the_limit_is_the_setting(small_limit: TestClient) -> None:
    under = {"name": "fits", "description": "x" * (3 * KiB), "spec": service_spec()}
    assert small_limit.post("/api/v2/artifacts", json=under).status_code == 201
    over = {**under, "description": "x" * (4 * KiB)}
    assert small_limit.post("/api/v2/artifacts", json=over).status_code == 413
    # Web UI forms are under the same limit.
    response = small_limit.post("/registry/services/new", data={"payload": "x" * (5 * KiB)})
    assert response.status_code == 413


# --- through a real `dockyard serve` -----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home: Path = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{home / 'dockyard.db'}"
    env = {"DOCKYARD_ADMIN_TOKEN": ADMIN_TOKEN}
    with Server(url, home / "home", runtime="fake", env=env) as running:
        yield running


def _raw(server: Server) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return connection


def _answer(connection: socket.socket) -> bytes:
    """One response read off a raw connection: its head, then `Content-Length` bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body


def test_a_chunked_body_is_refused_while_it_streams(server: Server) -> None:
    # The 413 comes back before the body ends: the server counted it as it arrived, instead
    # of buffering all of it first.
    with _raw(server) as connection:
        connection.sendall(
            b"POST /api/v2/credentials HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"a" * (64 * KiB)
        for _ in range(24):  # 1.5 MiB, never the terminating chunk
            connection.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"code": "payload_too_large"' in answer


def test_a_declared_length_over_the_limit_is_refused_before_the_body(server: Server) -> None:
    with _raw(server) as connection:
        connection.sendall(
            b"POST /api/v2/credentials HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
            b"Content-Length: 150000000\r\n\r\n"
        )
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/api/v2/users/me", "/api/v2/endpoints/workloads/000000000000000000000000/"],
)
def test_a_head_over_32_kib_is_431_on_every_route(server: Server, path: str) -> None:
    url = server.url + path
    assert httpx.get(url, headers={**AUTH, "X-Big": "a" * (30 * KiB)}).status_code != 431
    response = httpx.get(url, headers={**AUTH, "X-Big": "a" * (33 * KiB)})
    assert response.status_code == 431
    assert response.json()["code"] == "headers_too_large"
    many = {f"X-Part-{i}": "v" * 1000 for i in range(34)}  # many small headers add up
    assert httpx.get(url, headers={**AUTH, **many}).status_code == 431
    assert httpx.get(server.url + "/" + "a" * (33 * KiB)).status_code == 431  # a long URL


def test_a_100_mb_header_is_refused_at_once_and_stalls_nobody(server: Server) -> None:
    # Before the limit, such a header kept the server's event loop busy for 16 s.
    slowest = 0.0
    stop = threading.Event()

    def other_client() -> None:
        nonlocal slowest
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                began = time.monotonic()
                assert client.get("/healthz").status_code == 200
                slowest = max(slowest, time.monotonic() - began)
                time.sleep(0.01)

    watcher = threading.Thread(target=other_client)
    watcher.start()
    began = time.monotonic()
    answer = b""
    try:
        with _raw(server) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ")
            piece = b"a" * MiB
            # The server answers and closes long before 100 MB: sending then fails, expected.
            with contextlib.suppress(OSError):
                for _ in range(100):
                    connection.sendall(piece)
            with contextlib.suppress(OSError):
                answer = _answer(connection)
    finally:
        refused_after = time.monotonic() - began
        time.sleep(0.2)
        stop.set()
        watcher.join(30)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert refused_after < 5
    assert slowest < 1.0


class _QuickHeadTimeout(HeadLimitedHttpProtocol):
    head_timeout = 0.5


async def _hello(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def quick_timeout_server() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _hello, host="127.0.0.1", port=port, log_level="warning", http=_QuickHeadTimeout
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def test_a_head_that_trickles_in_gets_408(quick_timeout_server: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_timeout_server), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        began = time.monotonic()
        answer = _answer(connection)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "client_timeout"' in answer
    assert time.monotonic() - began < 5
    # A head that arrives whole, even on a connection kept open, is not timed.
    with socket.create_connection(("127.0.0.1", quick_timeout_server), timeout=10) as connection:
        for _ in range(2):
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(connection).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.7)
