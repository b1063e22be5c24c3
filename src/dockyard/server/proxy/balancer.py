"""Least outstanding requests: each request goes to the replica with the fewest in flight."""

from __future__ import annotations

from itertools import count

from dockyard.server.proxy.routing import Backend


class Balancer:
    def __init__(self) -> None:
        # Ties are broken by rotating the starting point, so idle replicas share the load
        # instead of the first one taking every sequential request.
        self._turn = count()

    def pick(self, backends: list[Backend]) -> Backend:
        n = len(backends)
        if n == 1:
            return backends[0]
        start = next(self._turn) % n
        best = backends[start]
        for i in range(1, n):
            candidate = backends[(start + i) % n]
            if candidate.outstanding < best.outstanding:
                best = candidate
        return best
