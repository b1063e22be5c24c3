"""What the invoke path reads from a request's headers, in one pass over them."""

from __future__ import annotations

import contextlib

from starlette.types import Scope

# Request headers the proxy consumes or sets itself instead of passing on.
_CONSUMED = frozenset(
    {
        b"authorization",
        b"x-datarobot-api-key",  # the token's other form: never passed on to the workload
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
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


class RequestHead:
    __slots__ = (
        "api_key",
        "authorization",
        "body_kind",
        "forwarded_for",
        "headers",
        "host",
        "scale_up_wait",
        "too_large",
    )

    def __init__(self) -> None:
        self.authorization: bytes | None = None
        self.api_key: bytes | None = None
        self.host: str | None = None
        self.forwarded_for: str | None = None
        self.scale_up_wait = 0.0
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
            elif name == b"x-forwarded-host" or (name == b"host" and request.host is None):
                request.host = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                request.forwarded_for = value.decode("latin-1")
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
        headers.append((name, value))
    if request.body_kind == "chunked":  # the length, if any, is not the one that counts
        headers = request.headers = [(k, v) for k, v in headers if k != b"content-length"]
    if dropped:
        request.headers = [(k, v) for k, v in headers if k not in dropped]
    request.too_large = size > max_bytes
    return request
