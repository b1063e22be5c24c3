"""Every way an invoke can fail answers cleanly, and nothing is left behind."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from sqlalchemy import update

from dockyard.server.workloads.models import Workload
from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import (
    LoopThread,
    RawServer,
    Upstream,
    free_port,
    garbage,
    silence,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["message"] and body["detail"] == body["message"]


def _settled(live: Live, workload_id: str) -> None:
    """Nothing in flight, nothing outstanding: the proxy's counters all came back to zero."""
    deadline = time.monotonic() + 5
    route = live.proxy.table.routes[workload_id]
    while time.monotonic() < deadline and (
        live.proxy.stats.in_flight.get(workload_id, 0)
        or any(backend.outstanding for backend in route.backends)
    ):
        time.sleep(0.02)
    assert live.proxy.stats.in_flight.get(workload_id, 0) == 0
    assert all(backend.outstanding == 0 for backend in route.backends)


def test_refused_connection_is_502(live: Live) -> None:
    workload_id = live.create_workload([free_port()])
    _error(live.admin.get(live.invoke_url(workload_id, "/")), 502, "upstream_unavailable")
    _settled(live, workload_id)


def test_garbage_answer_is_502(live: Live, loops: LoopThread) -> None:
    server = RawServer(loops, garbage)
    try:
        workload_id = live.create_workload([server.port])
        _error(live.admin.get(live.invoke_url(workload_id, "/")), 502, "upstream_unavailable")
        _settled(live, workload_id)
    finally:
        server.close()


def test_silent_upstream_is_504_after_the_timeout(live: Live, loops: LoopThread) -> None:
    server = RawServer(loops, silence)
    try:
        workload_id = live.create_workload([server.port])
        started = time.monotonic()
        response = live.admin.get(live.invoke_url(workload_id, "/"))
        _error(response, 504, "upstream_timeout")
        assert 0.9 < time.monotonic() - started < 5  # DOCKYARD_PROXY_TIMEOUT_SECONDS is 1 here
        _settled(live, workload_id)
    finally:
        server.close()


def test_response_cut_short_is_a_clean_truncation(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    with pytest.raises(httpx.RemoteProtocolError):
        live.admin.get(live.invoke_url(workload_id, "/cut"))
    _settled(live, workload_id)
    # The server and its pool are fine afterwards.
    assert live.admin.get(live.invoke_url(workload_id, "/echo")).status_code == 200


def test_replica_dying_mid_stream_truncates_then_503s(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    url = live.invoke_url(workload_id, "/download?bytes=100000000&delay=0.2&die_after=1000000")
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url, headers=AUTH) as r:
        for chunk in r.iter_raw():
            if not received:
                live.set_replicas(workload_id, [], status="stopped")  # the workload stops
            received += len(chunk)
    assert 0 < received < 100_000_000
    _settled(live, workload_id)
    response = live.admin.get(live.invoke_url(workload_id, "/echo"))
    _error(response, 503, "no_ready_replica")
    assert "retry-after" not in response.headers  # stopped: waiting will not help


def test_stopped_workload_is_503_at_once(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    live.set_replicas(workload_id, [], status="stopped")
    started = time.monotonic()
    response = live.admin.get(
        live.invoke_url(workload_id, "/echo"), headers={"X-Scale-Up-Timeout": "10"}
    )
    _error(response, 503, "no_ready_replica")
    assert response.json()["message"] == "The workload is stopped; start it to invoke it."
    assert "retry-after" not in response.headers  # nobody is starting it
    assert time.monotonic() - started < 1  # no waiting for a workload nobody is starting


def test_errored_workload_says_why_and_sends_no_retry_after(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    live.set_replicas(workload_id, [], status="errored", sync=False)
    with live.app.state.db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == workload_id)
            .values(status_reason="image_pull_failed", status_message="no such host")
        )
    live.sync_routes()
    response = live.admin.get(live.invoke_url(workload_id, "/echo"))
    _error(response, 503, "no_ready_replica")
    message = response.json()["message"]
    assert "errored (image_pull_failed)" in message
    assert "no such host" not in message  # the cause is in statusDetails, for viewers
    assert "retry soon" not in message and "stopped" not in message
    assert "retry-after" not in response.headers


def test_starting_workload_says_so_and_sends_retry_after(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port], status="launching")
    live.set_replicas(workload_id, [upstream.port], status="launching", ready=False)
    response = live.admin.get(live.invoke_url(workload_id, "/echo"))
    _error(response, 503, "no_ready_replica")
    assert "it is launching" in response.json()["message"]
    assert response.headers["retry-after"] == "1"


def test_starting_workload_holds_the_request_up_to_the_scale_up_timeout(
    live: Live, upstream: Upstream
) -> None:
    workload_id = live.create_workload([upstream.port], status="launching")
    live.set_replicas(workload_id, [upstream.port], status="launching", ready=False)
    # Without the header: 503 at once.
    _error(live.admin.get(live.invoke_url(workload_id, "/echo")), 503, "no_ready_replica")
    # With it: the request waits until a replica is ready.
    becomes_ready = threading.Timer(
        0.5, lambda: live.set_replicas(workload_id, [upstream.port], status="running")
    )
    becomes_ready.start()
    response = live.admin.get(
        live.invoke_url(workload_id, "/echo"), headers={"X-Scale-Up-Timeout": "10"}
    )
    becomes_ready.join()
    assert response.status_code == 200
    # A wait that runs out is a 503 too.
    live.set_replicas(workload_id, [upstream.port], status="launching", ready=False)
    started = time.monotonic()
    response = live.admin.get(
        live.invoke_url(workload_id, "/echo"), headers={"X-Scale-Up-Timeout": "0.5"}
    )
    _error(response, 503, "no_ready_replica")
    assert 0.4 < time.monotonic() - started < 3


def _raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.startswith(b"HTTP/1.1 408"):
                break
    return answer


def test_slow_client_body_is_cut_off(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    port = int(live.url.rsplit(":", 1)[1])
    path = f"/api/v2/endpoints/workloads/{workload_id}/upload"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _raw_request(port, head, b"x" * 10)  # then nothing: a slow-loris body
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 5  # DOCKYARD_PROXY_CLIENT_IDLE_SECONDS is 0.5 here
    _settled(live, workload_id)


def test_client_leaving_mid_upload_leaves_nothing_behind(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    port = int(live.url.rsplit(":", 1)[1])
    path = f"/api/v2/endpoints/workloads/{workload_id}/upload"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Length: 10000000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head + b"x" * 100_000)
        time.sleep(0.1)
    _settled(live, workload_id)
    assert live.admin.get(live.invoke_url(workload_id, "/echo")).status_code == 200


def test_pool_stays_bounded_under_many_failures(live: Live, loops: LoopThread) -> None:
    server = RawServer(loops, garbage)
    try:
        workload_id = live.create_workload([server.port])
        for _ in range(30):
            live.admin.get(live.invoke_url(workload_id, "/"))
        _settled(live, workload_id)
        pool = live.proxy.pool
        assert pool.busy == 0  # no connection checked out and forgotten
        assert pool.open == 0  # and none kept: garbage closes the connection
    finally:
        server.close()


def test_database_trouble_is_503_not_500(
    live: Live, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload_id = live.create_workload([upstream.port])

    def unreachable(token: str) -> None:
        raise OSError("database unreachable")

    monkeypatch.setattr(live.app.state.token_verifier, "verify", unreachable)
    response = httpx.get(
        live.invoke_url(workload_id, "/echo"), headers={"Authorization": "Bearer dy_not_cached"}
    )
    _error(response, 503, "service_unavailable")
    assert response.headers["retry-after"] == "1"
