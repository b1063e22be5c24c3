"""Absolute URLs, from DOCKYARD_PUBLIC_URL when set, else from the request."""

from __future__ import annotations

from fastapi import Request

from dockyard.server.kit.forwarded import forwarded_value


def base_url(request: Request) -> str:
    """The server's root URL without a trailing slash."""
    public = request.app.state.settings.public_url
    if public:
        return public.rstrip("/")
    # A client's X-Forwarded-* would otherwise choose the links the API hands back; only a
    # proxy in DOCKYARD_TRUSTED_PROXIES may (as for invoke).
    scheme = forwarded_value(request, "x-forwarded-proto") or request.url.scheme
    host = (
        forwarded_value(request, "x-forwarded-host")
        or request.headers.get("host")
        or request.url.netloc
    )
    return f"{scheme}://{host}"


def absolute_url(request: Request, path: str) -> str:
    return f"{base_url(request)}{path}"
