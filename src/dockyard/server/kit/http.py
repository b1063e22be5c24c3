"""ASGI plumbing: every API route answers with and without a trailing slash."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# The invoke proxy forwards paths verbatim, trailing slash included.
_VERBATIM_PREFIXES = ("/api/v2/endpoints/",)


class TrailingSlashMiddleware:
    """Strips one trailing slash before routing instead of redirecting (a 307 breaks POSTs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/") and not path.startswith(_VERBATIM_PREFIXES):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
