"""Keeps secrets out of the access log: no query string of /login, no token anywhere.

uvicorn logs each request's path with its query string. `/login` is where sign-in codes (and,
from older links, tokens) arrive in the URL, so its query string is never logged; anywhere
else a value shaped like a Dockyard API token is masked, in case someone pasted one into a URL.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

ACCESS_LOGGER = "uvicorn.access"
_TOKEN = re.compile(r"dy_[A-Za-z0-9_\-%]+")
_PRIVATE_QUERY_PATHS = frozenset({"/login"})


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's record: (client, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def redact(target: str) -> str:
    path, mark, _query = target.partition("?")
    if mark and unquote(path).rstrip("/") in _PRIVATE_QUERY_PATHS:
        return path
    return _TOKEN.sub("dy_…", target)


def install() -> None:
    """Add the filter to uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
        logger.addFilter(RedactSecrets())
