"""What a string may hold, by where it ends up.

NUL is refused in every string of every request (server/kit/request_input.py does that for
the whole body at once). CR and LF are refused where a value becomes an HTTP header, a request
path or a name: there a line break would start a second header or a second request. They stay
allowed where text is meant to span lines (entrypoint arguments, environment values, PEM keys,
descriptions).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Checked by pydantic-core's own regex engine (no Python call per value), and published in the
# OpenAPI document, so clients see the rule.
ONE_LINE = r"^[^\x00\r\n]*$"
# RFC 9110 field-name: a token.
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
# A request target path: no controls, no spaces, nothing that could end the request line.
URL_PATH = r"^/[^\x00-\x20\x7f]*$"
# A name people pick: one line with something visible in it.
VISIBLE_LINE = r"^[^\x00\r\n]*[^\x00\r\n\s][^\x00\r\n]*$"

OneLine = Annotated[str, StringConstraints(pattern=ONE_LINE)]
VisibleLine = Annotated[str, StringConstraints(pattern=VISIBLE_LINE)]
HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=HEADER_NAME)]
HeaderValue = Annotated[str, StringConstraints(max_length=8192, pattern=ONE_LINE)]

# What each pattern means, for error messages (a regex is no explanation).
PATTERN_MEANINGS = {
    ONE_LINE: "must be a single line: no CR, LF or NUL characters",
    HEADER_NAME: "must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)",
    VISIBLE_LINE: "must be a single line (no CR, LF or NUL) with a visible character",
    URL_PATH: "must be a path starting with '/', without spaces or control characters",
}
