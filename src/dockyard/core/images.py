"""OCI image references: parsing (the distribution grammar) and the admin allow/deny globs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*))"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_MAX_NAME = 255
DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageReference:
    domain: str | None  # as written; None means the default registry
    path: str
    tag: str | None
    digest: str | None

    @property
    def canonical(self) -> str:
        """Fully qualified: `python:3.12` → `docker.io/library/python:3.12`."""
        domain = (self.domain or DEFAULT_REGISTRY).lower()
        path = self.path
        if domain == DEFAULT_REGISTRY and "/" not in path:
            path = f"library/{path}"
        text = f"{domain}/{path}"
        if self.tag or not self.digest:
            text += f":{self.tag or 'latest'}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_reference(text: str) -> ImageReference | None:
    """The parsed reference, or None when `text` is not a valid OCI reference."""
    match = _REFERENCE.match(text)
    if match is None or len(match.group("name")) > _MAX_NAME:
        return None
    domain, path = match.group("domain"), match.group("path")
    # Without a dot, colon or "localhost" the first component is a path, not a registry host
    # (`library/python`); the grammar alone cannot tell, docker's rule does.
    if domain and not ("." in domain or ":" in domain or domain == "localhost"):
        if domain != domain.lower():
            return None
        path, domain = f"{domain}/{path}", None
    return ImageReference(domain, path, match.group("tag"), match.group("digest"))


def _forms(uri: str) -> list[str]:
    """What a glob is matched against: the URI as written and fully qualified, host lower-cased."""
    reference = parse_image_reference(uri)
    if reference is None:
        return [uri]
    written = uri
    if reference.domain:
        written = reference.domain.lower() + uri[len(reference.domain) :]
    return list(dict.fromkeys([written, reference.canonical]))


def image_allowed(uri: str, *, allowlist: list[str], denylist: list[str]) -> bool:
    """Deny wins; with an allowlist, only matching images pass; no lists: everything passes."""
    forms = _forms(uri)

    def matches(globs: list[str]) -> bool:
        return any(fnmatchcase(form, _lower_host(glob)) for glob in globs for form in forms)

    if matches(denylist):
        return False
    return not allowlist or matches(allowlist)


def _lower_host(glob: str) -> str:
    head, slash, rest = glob.partition("/")
    return f"{head.lower()}{slash}{rest}" if slash else glob
