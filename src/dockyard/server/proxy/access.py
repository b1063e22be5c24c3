"""Who may invoke: API tokens checked on the event loop, grants read from the routing table."""

from __future__ import annotations

import asyncio
import logging

from dockyard.core.errors import (
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from dockyard.server.kit.auth import INVALID_TOKEN, MISSING_TOKEN, Principal, read_token
from dockyard.server.kit.ids import is_valid_id
from dockyard.server.kit.threads import in_worker_thread
from dockyard.server.proxy.errors import NoReadyReplica
from dockyard.server.proxy.routing import Route, RoutingTable
from dockyard.server.sharing.roles import Right
from dockyard.server.users.tokens import TokenVerifier

log = logging.getLogger(__name__)

WORKLOAD = "workload"
DEPLOYMENT = "deployment"


class Access:
    def __init__(self, verifier: TokenVerifier, table: RoutingTable) -> None:
        self._verifier = verifier
        self._table = table
        self._loading: dict[str, asyncio.Future[Principal | None]] = {}

    async def principal(
        self, authorization: bytes | None, api_key: bytes | None = None
    ) -> Principal:
        """The caller, from the token in any form the API accepts (kit/auth.read_token)."""
        token = read_token(_text(authorization), _text(api_key))
        if token is None:
            raise Unauthorized(MISSING_TOKEN)
        found, principal = self._verifier.cached(token)
        if not found:
            principal = await self._load(token)
        if principal is None:
            raise Unauthorized(INVALID_TOKEN)
        return principal

    async def _load(self, token: str) -> Principal | None:
        # A cache miss reads the database in a thread; concurrent misses share that read.
        pending = self._loading.get(token)
        if pending is None:
            pending = asyncio.ensure_future(in_worker_thread(self._verifier.verify, token))
            self._loading[token] = pending
            pending.add_done_callback(lambda _: self._loading.pop(token, None))
        try:
            return await asyncio.shield(pending)
        except Exception as exc:  # the database is unreachable: say so, never a 500
            log.warning("token check failed: %r", exc)
            raise ServiceUnavailable("Tokens cannot be checked right now; retry soon.") from None

    async def route(self, principal: Principal, kind: str, object_id: str) -> Route:
        """Where the caller's request goes, if they may invoke the workload or deployment
        named: 404 if they cannot see it, 403 if they can only see it."""
        table = self._table
        known = table.routes if kind == WORKLOAD else table.deployments
        target = known.get(object_id)
        if target is None and is_valid_id(object_id):
            # Created since the last refresh, perhaps: read the table once more (shared).
            try:
                await table.refresh(rebuild=True)
            except Exception as exc:
                log.warning("routing table refresh failed: %r", exc)
                raise ServiceUnavailable("Routes cannot be read right now; retry soon.") from None
            known = table.routes if kind == WORKLOAD else table.deployments
            target = known.get(object_id)
        level = target.level_for(principal) if target is not None else None
        if target is None or level is None:
            raise NotFound.of(kind, object_id)
        if level < Right.INVOKE:
            raise Forbidden(f"You may not invoke this {kind}.", code="forbidden")
        if isinstance(target, Route):
            return target
        if not target.serving:
            raise Forbidden(
                "This deployment's owners may no longer change the workload behind it, so it "
                "no longer serves; an owner of that workload can take the deployment over "
                "(share it to themselves as OWNER) or delete it.",
                code="workload_access_revoked",
            )
        # A deployment's own grants are what count; its workload is reached on its behalf.
        route = table.routes.get(target.workload_id)
        if route is None:
            raise NoReadyReplica("The deployment's workload is gone; retry soon.")
        return route


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value else None
