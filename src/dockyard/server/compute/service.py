"""The bundle catalog, paged like every list."""

from __future__ import annotations

from dockyard.core.bundles import CATALOG, Bundle


def list_bundles(*, offset: int, limit: int) -> tuple[list[Bundle], int]:
    """Every bundle, smallest first: the same catalog for everyone signed in."""
    bundles = list(CATALOG.values())
    return bundles[offset : offset + limit], len(bundles)
