"""How `dockyard serve` runs uvicorn: the options, and its HTTP protocol.

The protocol is uvicorn's httptools one with two changes: request heads are limited (431, see
`kit/http_protocol.py`), and a chunked request's trailers are kept apart from its headers.

uvicorn's httptools protocol appends a chunked request's trailer fields to the request's
header list, the same list object the application got in its scope: a trailer that arrives
with the body (a small request, one packet) shows up as a request header, and one that arrives
later is lost. Here, once the head is complete, fields go to a list of their own under
`scope["dockyard.trailers"]`, complete when the body's last message has been received; the
invoke proxy sends them on as trailers.
"""

from __future__ import annotations

from typing import Any

from dockyard.server.kit.http_protocol import HeadLimitedHttpProtocol

REQUEST_TRAILERS = "dockyard.trailers"


class DockyardHttpProtocol(HeadLimitedHttpProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.transport.is_closing() or self.parser.should_upgrade():
            return  # an upgrade has no trailers, and uvicorn reads the header list again
        trailers: list[tuple[bytes, bytes]] = []
        # An ASGI scope may carry extension keys; uvicorn's TypedDict of it names none.
        self.scope[REQUEST_TRAILERS] = trailers  # type: ignore[literal-required]
        # No per-header cost: the parser's later fields simply land in the new list.
        self.headers = trailers


def uvicorn_options() -> dict[str, Any]:
    """Options every uvicorn serving Dockyard needs (the CLI's, and the tests' servers)."""
    return {
        "http": DockyardHttpProtocol,
        # Forwarding headers are Dockyard's to judge (DOCKYARD_TRUSTED_PROXIES): uvicorn would
        # otherwise believe 127.0.0.1's and replace the client address before Dockyard sees it.
        "proxy_headers": False,
    }
