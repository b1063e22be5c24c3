"""What the invoke path reads from a request's headers, in one pass over them."""

from __future__ import annotations

import contextlib

from starlette.types import Scope

# Request headers the proxy consumes or sets itself instead of passing on.
_CONSUMED = frozenset(
    {
        b"authorization",  # Dockyard's token: consumed, never forwarded
        b"x-datarobot-api-key",  # the token's other form: never passed on either
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        b"expect",  # the server already answered 100-continue to the client
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-prefix",
        b"x-scale-up-timeout",
    }
)
# Never in a forwarded trailer either: framing, routing and credentials (RFC 9110 §6.5.1).
TRAILER_REFUSED = _CONSUMED | {b"content-length", b"content-type", b"cookie", b"trailer"}

# Dockyard's own cookies (the web UI's session, its CSRF and flash cookies) are named
# `dockyard_…`; a browser signed in to the UI sends them along to invoke URLs on the same
# host. The session cookie seals an API token, so they are taken out; the workload's own
# cookies pass.
_OWN_COOKIE = b"dockyard_"
_COOKIE_PREFIXES = (b"dockyard_", b"__Host-dockyard_", b"__Secure-dockyard_")


class RequestHead:
    __slots__ = (
        "authorization",
        "body_kind",
        "forwarded_for",
        "api_key",
        "forwarded_host",
        "forwarded_proto",
        "headers",
        "host",
        "scale_up_wait",
        "too_large",
    )

    def __init__(self) -> None:
        self.authorization: bytes | None = None
        self.api_key: bytes | None = None
        self.host: bytes | None = None
        # As the client sent them; believed only from a trusted proxy (gateway.py).
        self.forwarded_for: bytes | None = None
        self.forwarded_proto: bytes | None = None
        self.forwarded_host: bytes | None = None
        self.scale_up_wait: float | None = None  # X-Scale-Up-Timeout, when sent
        self.body_kind: str | None = None  # "length" | "chunked" | None: no body
        self.too_large = False
        self.headers: list[tuple[bytes, bytes]] = []


def scan(scope: Scope, max_bytes: int) -> RequestHead:
    """One pass over the request headers: what to consume, what to pass on."""
    request = RequestHead()
    size = 0
    dropped: set[bytes] | None = None
    headers = request.headers
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
        if name in _CONSUMED:
            if name == b"authorization":
                request.authorization = value
            elif name == b"x-datarobot-api-key":
                request.api_key = value
            elif name == b"host":
                if request.host is None:
                    request.host = value
            elif name == b"x-forwarded-for":
                # Several lines are one list (RFC 9110 §5.3).
                previous = request.forwarded_for
                request.forwarded_for = value if previous is None else previous + b", " + value
            elif name == b"x-forwarded-proto":
                request.forwarded_proto = value
            elif name == b"x-forwarded-host":
                request.forwarded_host = value
            elif name == b"transfer-encoding":
                request.body_kind = "chunked"
            elif name == b"connection":
                # Headers the client named in Connection are hop-by-hop as well.
                dropped = {t.strip().lower() for t in value.split(b",")}
            elif name == b"x-scale-up-timeout":
                with contextlib.suppress(ValueError):
                    request.scale_up_wait = max(float(value), 0.0)
            continue
        if name == b"content-length" and value != b"0" and request.body_kind is None:
            request.body_kind = "length"
        elif name == b"cookie" and _OWN_COOKIE in value:
            value = without_own_cookies(value)
            if not value:
                continue
        headers.append((name, value))
    if request.body_kind == "chunked":  # the length, if any, is not the one that counts
        headers = request.headers = [(k, v) for k, v in headers if k != b"content-length"]
    if dropped:
        request.headers = [(k, v) for k, v in headers if k not in dropped]
    request.too_large = size > max_bytes
    return request


def without_own_cookies(value: bytes) -> bytes:
    """A `Cookie` header without Dockyard's own cookies (b"" when none is left)."""
    kept = [
        pair.strip()
        for pair in value.split(b";")
        if pair.strip() and not pair.strip().startswith(_COOKIE_PREFIXES)
    ]
    return b"; ".join(kept)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (nothing for no data: an empty chunk would end it)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def last_chunk(trailers: list[tuple[bytes, bytes]] | None) -> bytes:
    """The end of a chunked body, with the client's trailers less those no hop may pass."""
    if not trailers:
        return b"0\r\n\r\n"
    fields = b"".join(
        b"%s: %s\r\n" % (name, value) for name, value in trailers if name not in TRAILER_REFUSED
    )
    return b"0\r\n" + fields + b"\r\n"
