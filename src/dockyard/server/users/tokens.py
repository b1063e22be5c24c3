"""API tokens: generation, hashing, and the cached check behind every request."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from dockyard.server.db.session import Database
from dockyard.server.kit.auth import Principal, Profile
from dockyard.server.users import repository

TOKEN_PREFIX = "dy_"
T = TypeVar("T")


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class CachedSecretCheck(Generic[T]):
    """Resolves a secret (an API token, a web session) through its SHA-256, trusting each
    answer for at most `ttl` seconds.

    The short cache keeps the database off the hot path while a revoked secret still stops
    working within the second the contract promises. Subclasses say what a digest resolves to.
    """

    def __init__(
        self, db: Database, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, T | None]] = {}
        self._lock = threading.Lock()

    def verify(self, secret: str) -> T | None:
        if len(secret) > 512:
            return None
        digest = hash_token(secret)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = self._load(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, found)
        return found

    async def check(self, secret: str) -> T | None:
        """`verify` from the event loop: a cache miss reads the database on a read thread."""
        return await self._db.run(self.verify, secret)

    def cached(self, secret: str) -> tuple[bool, T | None]:
        """The cached answer, without touching the database: `(found, answer)`.

        Lets async callers (the invoke proxy) answer hits on the event loop and send only
        misses to a thread running `verify`.
        """
        if len(secret) > 512:
            return True, None
        with self._lock:
            hit = self._cache.get(hash_token(secret))
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _load(self, digest: str) -> T | None:
        raise NotImplementedError


class TokenVerifier(CachedSecretCheck[Principal]):
    """Resolves a bearer token to its user."""

    def _load(self, digest: str) -> Principal | None:
        with self._db.unit_of_work(write=False) as session:
            row = repository.principal_row(session, digest)
        if row is None:
            return None
        return Principal(
            user_id=row.id,
            username=row.username,
            is_admin=row.is_admin,
            profile=Profile(email=row.email, full_name=row.full_name),
        )
