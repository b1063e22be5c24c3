"""What invoke keeps from the caller: not Dockyard's cookies or tokens, not an untrusted
proxy's forwarding headers; and a chunked upload's trailers arrive as trailers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.server.settings import Settings
from dockyard.server.ui.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from dockyard.server.ui.web import FLASH_COOKIE
from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live, running
from tests.server.proxy.upstreams import LoopThread, RawServer, Upstream, as_json, raw_echo

SPOOFED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server that trusts 127.0.0.0/8, where the tests' client connects from."""
    home: Path = tmp_path_factory.mktemp("trusting")
    settings = Settings(
        home=home / "home",
        database_url=f"sqlite:///{home / 'dockyard.db'}",
        admin_token=ADMIN_TOKEN,
        runtime="fake",
        trusted_proxies=["10.1.0.0/16", "127.0.0.0/8"],
    )
    with running(settings) as handle:
        yield handle


@pytest.fixture
def echo(loops: LoopThread) -> Iterator[RawServer]:
    server = RawServer(loops, raw_echo)
    yield server
    server.close()


# --- cookies and tokens -------------------------------------------------------------------------


def test_dockyards_cookies_are_not_forwarded_the_workloads_are(
    live: Live, upstream: Upstream
) -> None:
    workload_id = live.create_workload([upstream.port])
    cookie = f"{SESSION_COOKIE}=sealed-token; theme=dark; {LOGIN_CSRF_COOKIE}=x; cart=3"
    seen = live.admin.get(live.invoke_url(workload_id, "/echo"), headers={"Cookie": cookie})
    assert seen.json()["headers"]["cookie"] == "theme=dark; cart=3"
    only_ours = f"{SESSION_COOKIE}=a; {FLASH_COOKIE}=b"
    seen = live.admin.get(live.invoke_url(workload_id, "/echo"), headers={"Cookie": only_ours})
    assert "cookie" not in seen.json()["headers"]


def test_no_dockyard_token_reaches_the_workload(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    response = live.admin.post(
        live.invoke_url(workload_id, "/echo"),
        headers={"Cookie": f"{SESSION_COOKIE}={ADMIN_TOKEN}", "Proxy-Authorization": ADMIN_TOKEN},
    )
    assert response.status_code == 200, response.text
    assert ADMIN_TOKEN not in str(response.json()["headers"])


# --- forwarding headers -------------------------------------------------------------------------


def test_a_clients_forwarding_headers_are_replaced(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    seen = live.admin.get(live.invoke_url(workload_id, "/echo"), headers=SPOOFED).json()
    headers = seen["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == live.url.removeprefix("http://")


def test_a_trusted_proxys_forwarding_headers_are_kept_and_extended(
    behind_proxy: Live, upstream: Upstream
) -> None:
    workload_id = behind_proxy.create_workload([upstream.port])
    url = behind_proxy.invoke_url(workload_id, "/echo")
    headers = behind_proxy.admin.get(url, headers=SPOOFED).json()["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == "evil.example"
    # Without forwarding headers, even a trusted peer is simply the client.
    headers = behind_proxy.admin.get(url).json()["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == behind_proxy.url.removeprefix("http://")


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.example")
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]


# --- trailers -----------------------------------------------------------------------------------


def _send_raw(live: Live, workload_id: str, pieces: list[bytes]) -> dict:
    host, port = live.url.removeprefix("http://").split(":")
    head = (
        f"POST /api/v2/endpoints/workloads/{workload_id}/up HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        "Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + pieces[0])
        for piece in pieces[1:]:
            sock.sendall(piece)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 200 " in status_line, answer
    return as_json(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("streamed", [False, True], ids=["one-packet", "streamed"])
def test_chunked_trailers_stay_trailers(live: Live, echo: RawServer, streamed: bool) -> None:
    workload_id = live.create_workload([echo.port])
    body = [b"5\r\nhello\r\n", b"6\r\n world\r\n"]
    end = b"0\r\nX-Checksum: abc123\r\nAuthorization: Bearer stolen\r\nHost: evil\r\n\r\n"
    pieces = [*body, end] if streamed else [b"".join([*body, end])]
    seen = _send_raw(live, workload_id, pieces)
    assert seen["body"] == "hello world"
    assert "x-checksum: abc123" not in seen["head"].lower()  # not smuggled into the head
    assert seen["trailers"] == "x-checksum: abc123\r\n"  # the dangerous ones dropped
    assert "trailer: x-checksum" in seen["head"].lower()  # the declaration passes too


def test_trust_is_by_address_or_network() -> None:
    from dockyard.server.kit.forwarded import TrustedProxies

    trusted = TrustedProxies(["10.1.0.0/16", "192.0.2.7", "2001:db8::/32"])
    assert "10.1.200.3" in trusted and "192.0.2.7" in trusted and "2001:db8::1" in trusted
    assert "::ffff:10.1.0.9" in trusted  # an IPv4 client on a dual-stack socket
    assert "10.2.0.1" not in trusted and "192.0.2.8" not in trusted
    assert "testclient" not in trusted and "" not in trusted  # not an address at all
    assert not TrustedProxies([])
