"""HTTP and TCP probes against a real local server: what passes, what fails and why."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dockyard.server.reconciler.prober import run_probe
from dockyard.server.reconciler.probes import ProbeKind, ProbeSpec


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        _Handler.seen.append({k.lower(): v for k, v in self.headers.items()})
        code = {"/ok": 200, "/moved": 301, "/broken": 500, "/missing": 404}.get(self.path, 404)
        body = b"x" * 100_000 if self.path == "/ok" else b"no"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen.clear()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _spec(port: int, path: str | None, **fields: object) -> ProbeSpec:
    return ProbeSpec(kind=ProbeKind.READINESS, port=port, path=path, timeout=5, **fields)  # type: ignore[arg-type]


def test_2xx_and_3xx_pass(port: int) -> None:
    assert run_probe(_spec(port, "/ok"), "127.0.0.1") == (True, None)
    assert run_probe(_spec(port, "/moved"), "127.0.0.1") == (True, None)


def test_an_error_status_fails_with_the_status_in_the_reason(port: int) -> None:
    ok, why = run_probe(_spec(port, "/broken"), "127.0.0.1")
    assert not ok and why == f"readiness probe GET /broken on port {port} answered 500"
    assert run_probe(_spec(port, "/missing"), "127.0.0.1")[0] is False


def test_the_probe_sends_host_and_the_declared_headers(port: int) -> None:
    run_probe(_spec(port, "/ok", headers=(("X-Probe", "yes"),)), "127.0.0.1")
    run_probe(_spec(port, "/ok", headers=(("Host", "app.internal"),)), "127.0.0.1")
    assert _Handler.seen[0]["host"] == f"127.0.0.1:{port}"
    assert _Handler.seen[0]["x-probe"] == "yes"
    assert _Handler.seen[1]["host"] == "app.internal"


def test_nothing_listening_fails_for_http_and_tcp() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        closed = holder.getsockname()[1]  # bound, never listening: connections are refused
        for path in ("/ok", None):
            ok, why = run_probe(_spec(closed, path), "127.0.0.1")
            assert not ok and why and f"on port {closed} failed" in why


def test_a_listener_that_does_not_speak_http_fails(port: int) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        silent = listener.getsockname()[1]

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"hello\r\n")

        threading.Thread(target=answer, daemon=True).start()
        ok, why = run_probe(_spec(silent, "/ok"), "127.0.0.1")
        assert not ok and why and "not an HTTP answer" in why
    assert run_probe(_spec(port, None), "127.0.0.1") == (True, None)  # TCP needs only the port


@pytest.mark.parametrize(
    "fields",
    [
        {"path": "/ok HTTP/1.1\r\nHost: x\r\n\r\nGET /smuggled"},
        {"path": "/ok", "headers": (("X-A", "b\r\n\r\nGET /smuggled HTTP/1.1"),)},
        {"path": "/ok", "headers": (("X-A\nGET /smuggled HTTP/1.1", "1"),)},
    ],
)
def test_a_stored_probe_with_a_line_break_sends_nothing(
    port: int, fields: dict[str, object]
) -> None:
    ok, why = run_probe(_spec(port, **fields), "127.0.0.1")  # type: ignore[arg-type]
    assert not ok and why is not None and "line break" in why
    assert _Handler.seen == []  # not one request reached the replica, let alone two
