"""Whose `X-Forwarded-*` headers to believe: the reverse proxies in DOCKYARD_TRUSTED_PROXIES.

Anyone can send `X-Forwarded-For: 10.0.0.1`; a workload that believed it would take the
caller for someone else. Only a request whose peer (the TCP connection's other end) is a
trusted proxy has its forwarding headers kept and extended, as nginx's
`$proxy_add_x_forwarded_for` does; every other request gets Dockyard's own view.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

_CACHE_LIMIT = 4096


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
        self._known: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, peer: str) -> bool:
        known = self._known.get(peer)
        if known is None:
            known = self._check(peer)
            if len(self._known) >= _CACHE_LIMIT:  # many distinct clients: start over
                self._known.clear()
            self._known[peer] = known
        return known

    def _check(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket path, or no address at all
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)


def trusts_forwarding(request: Request) -> bool:
    """Whether this request came through a trusted proxy, so its `X-Forwarded-*` count."""
    trusted: TrustedProxies | None = getattr(request.app.state, "trusted_proxies", None)
    client = request.client
    if not trusted or client is None:
        return False
    return client.host in trusted


def forwarded_value(request: Request, name: str) -> str | None:
    """The first value of a forwarding header, from a trusted proxy only (else None)."""
    value = request.headers.get(name)
    if not value or not trusts_forwarding(request):
        return None
    return value.split(",")[0].strip() or None
