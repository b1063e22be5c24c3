"""Deleting one of Dockyard's objects, with what it owns, where "already gone" is success."""

from __future__ import annotations

import httpx2
from lightkube import ApiError, Client
from lightkube.core.resource import NamespacedResource
from lightkube.types import CascadeType

from dockyard.server.runtimes.kubernetes.errors import api_failure, unreachable


def delete_with_dependents(
    client: Client,
    resource: type[NamespacedResource],
    name: str,
    *,
    namespace: str,
    server: str,
) -> None:
    """Delete the object with foreground propagation (its pods go before it does); a 404
    means an earlier pass or someone else deleted it, which is what was wanted."""
    try:
        client.delete(resource, name, namespace=namespace, cascade=CascadeType.FOREGROUND)
    except ApiError as exc:
        if exc.status.code != 404:
            raise api_failure(exc, f"deleting {resource.__name__} {name}") from None
    except httpx2.HTTPError as exc:
        raise unreachable(server, exc) from None
