"""Names of the objects Dockyard creates on a cluster, derived from a proton and stable for it.

Kubernetes wants DNS-1123 labels (lowercase letters, digits and `-`, at most 63 characters);
Services want them to start with a letter (DNS-1035). Every name starts with `dockyard-`, so an
id that starts with a digit is fine. A part that is not already a plain label (upper case, `_`
or `.`, too long) is folded into one and the name ends with a hash of the exact parts, so two
groups that fold alike (`Web` and `web`) still get different names.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63  # DNS-1123 label
PREFIX = "dockyard"
_PLAIN_ID = re.compile(r"[a-z0-9]+")  # an id with no `-`, so the name splits back unambiguously
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_NOT_SECRET_KEY = re.compile(r"[^-._a-zA-Z0-9]+")
_DIGEST = 8


def object_name(proton_id: str, group: str) -> str:
    """`object_name(proton_id, group) -> str`: the name of a group's Deployment, its Service and
    (for a task) its Job, e.g. `dockyard-66f1c2d0a1b2c3d4e5f60718-default`."""
    return _joined(proton_id, group)


def secret_name(proton_id: str) -> str:
    """`secret_name(proton_id) -> str`: the name of the proton's Secret of credential values."""
    return _joined(proton_id, "credentials")


def container_name(name: str) -> str:
    """`container_name(name) -> str`: a spec container's name inside the pod (a DNS-1123 label;
    it may start with a digit)."""
    return dns_label(name)


def dns_label(text: str, *, limit: int = MAX_NAME) -> str:
    """`text` as a DNS-1123 label of at most `limit` characters: itself when it already is one,
    otherwise folded (lowercase, runs of other characters become `-`) plus a hash of `text`."""
    if len(text) <= limit and _LABEL.fullmatch(text):
        return text
    tail = _digest(text)
    folded = _NOT_LABEL.sub("-", text.lower()).strip("-")
    head = folded[: limit - len(tail) - 1].rstrip("-")
    return f"{head}-{tail}" if head else tail


def secret_key(group: str, container: str, variable: str) -> str:
    """`secret_key(group, container, variable) -> str`: the key of one container's credential
    variable in the proton's Secret, `<group>.<container>.<variable>` when that reads back
    unambiguously (no `.` in the group or container name), else folded with a hash."""
    plain = f"{group}.{container}.{variable}"
    unambiguous = "." not in group and "." not in container
    if unambiguous and len(plain) <= 253 and _SECRET_KEY.fullmatch(plain):
        return plain
    tail = _digest("\0".join((group, container, variable)))
    return _NOT_SECRET_KEY.sub("_", plain)[: 253 - len(tail) - 1] + "." + tail


def _joined(proton_id: str, suffix: str) -> str:
    plain = f"{PREFIX}-{proton_id}-{suffix}"
    if len(plain) <= MAX_NAME and _PLAIN_ID.fullmatch(proton_id) and _LABEL.fullmatch(suffix):
        return plain
    tail = _digest(f"{proton_id}\0{suffix}")
    folded = _NOT_LABEL.sub("-", plain.lower()).strip("-")
    return folded[: MAX_NAME - len(tail) - 1].rstrip("-") + "-" + tail


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
