"""The `Warning` header naming the request body fields Dockyard ignored.

`Warning: 299 - "ignored field spec.containerGroups[0].containers[0].imagUri"`, one entry per
field, at most `MAX_LISTED` (then one entry saying how many more). Each text is a JSON string,
so quotes, backslashes and non-ASCII characters in a client's field names arrive escaped.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.core.unknown_fields import collecting

MAX_LISTED = 10
# A field name is the client's text; a megabyte-long key must not become a megabyte header.
MAX_NAME_CHARS = 200


def warning_header(paths: list[str]) -> str:
    """The header's value for the given field paths (duplicates named once)."""
    unique = list(dict.fromkeys(paths))
    entries = [_entry(f"ignored field {_shortened(path)}") for path in unique[:MAX_LISTED]]
    if len(unique) > MAX_LISTED:
        entries.append(_entry(f"{len(unique) - MAX_LISTED} more ignored fields"))
    return ", ".join(entries)


def _entry(text: str) -> str:
    return "299 - " + json.dumps(text, ensure_ascii=True)


def _shortened(path: str) -> str:
    return path if len(path) <= MAX_NAME_CHARS else path[: MAX_NAME_CHARS - 3] + "..."


class IgnoredFieldsMiddleware:
    """Collects the unknown fields met while a request is handled and names them in its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        with collecting() as found:

            async def send_with_warning(message: Message) -> None:
                if message["type"] == "http.response.start" and found:
                    headers = list(message.get("headers") or [])
                    headers.append((b"warning", warning_header(found).encode("ascii")))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_warning)
