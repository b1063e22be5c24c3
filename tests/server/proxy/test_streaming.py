"""Bodies stream both ways without buffering; WebSockets pass through."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import OPEN_STREAMS, Upstream

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MiB = 1024 * 1024


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def test_large_download_streams_with_bounded_memory(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    total = 256 * MiB
    before = _rss()
    peak = before
    received = 0
    url = live.invoke_url(workload_id, f"/download?bytes={total}&length=1")
    with httpx.stream("GET", url, headers=AUTH, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(total)
        for chunk in response.iter_raw():
            received += len(chunk)
            if received % (16 * MiB) < len(chunk):
                peak = max(peak, _rss())
    assert received == total
    # The proxy, the upstream and this client share the process: all of it stays small.
    assert peak - before < 50 * MiB


def test_chunked_upload_streams_to_the_upstream(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for index in range(64):
            piece = bytes([index]) * MiB
            digest.update(piece)
            yield piece

    response = httpx.post(
        live.invoke_url(workload_id, "/upload"), content=body(), headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["size"] == 64 * MiB
    assert seen["sha256"] == digest.hexdigest()
    assert seen["chunks"] > 1  # arrived in pieces, not as one buffered body


def test_invoke_bodies_are_not_under_the_api_body_limit(live: Live, upstream: Upstream) -> None:
    # DOCKYARD_MAX_BODY_BYTES (1 MiB) limits API bodies; a workload takes what it takes.
    workload_id = live.create_workload([upstream.port])
    body = bytes(range(256)) * (16 * 1024)  # 4 MiB with a Content-Length
    response = httpx.post(
        live.invoke_url(workload_id, "/upload"), content=body, headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["size"] == len(body)
    assert response.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_server_sent_events_pass_at_once_and_end_with_the_client(
    live: Live, upstream: Upstream
) -> None:
    workload_id = live.create_workload([upstream.port])
    started = time.perf_counter()
    with httpx.stream("GET", live.invoke_url(workload_id, "/events"), headers=AUTH) as response:
        assert response.headers["content-type"] == "text/event-stream"
        first = next(response.iter_raw())
        elapsed = time.perf_counter() - started
    assert first.startswith(b"data: first")
    assert elapsed < 0.5  # the stream never ends: only an unbuffered proxy gets here at all
    # The client left: the proxy closes its upstream stream instead of reading it forever.
    deadline = time.monotonic() + 5
    while upstream.app[OPEN_STREAMS] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.app[OPEN_STREAMS] == 0
    assert live.proxy.stats.in_flight[workload_id] == 0


def test_websocket_echo(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    url = live.invoke_url(workload_id, "/ws").replace("http://", "ws://")
    with connect(url, additional_headers=AUTH, subprotocols=["chat"]) as socket:
        assert socket.subprotocol == "chat"
        socket.send("hello")
        assert socket.recv(timeout=5) == "a:hello"
        socket.send(b"\x01\x02\x03")
        assert socket.recv(timeout=5) == b"\x03\x02\x01"
    deadline = time.monotonic() + 5
    while live.proxy.stats.in_flight.get(workload_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.proxy.stats.in_flight[workload_id] == 0


def test_websocket_needs_invoke_rights(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    url = live.invoke_url(workload_id, "/ws").replace("http://", "ws://")
    with pytest.raises(Exception) as refused, connect(url):
        pass
    assert "401" in str(refused.value)
