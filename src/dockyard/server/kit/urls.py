"""Absolute URLs, from DOCKYARD_PUBLIC_URL when set, else from the request."""

from __future__ import annotations

from fastapi import Request


def base_url(request: Request) -> str:
    """The server's root URL without a trailing slash."""
    public = request.app.state.settings.public_url
    if public:
        return public.rstrip("/")
    headers = request.headers
    scheme = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    return f"{scheme}://{host.split(',')[0].strip()}"


def absolute_url(request: Request, path: str) -> str:
    return f"{base_url(request)}{path}"
