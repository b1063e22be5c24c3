"""Compute bundles: named CPU and memory sizes a workload's container group may ask for.

A group's `resourceBundles` lists bundle ids in order of preference; Dockyard has no
scheduler choosing by availability, so the first known id is the one used, and responses
show it as the group's `resolvedBundle`. A container's own `resourceAllocation` still
overrides the bundle's CPU or memory. The catalog is served at `/api/v2/mlops/compute/bundles`,
where the hosted platform's clients look for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from dockyard.core.base import CamelModel


class Bundle(CamelModel):
    """One size in the bundle catalog, and the `resolvedBundle` of a group that asked for it."""

    id: str = Field(description="What a group lists in `resourceBundles`, e.g. cpu.small.")
    name: str = Field(description="A short label for people.")
    description: str = ""
    cpu_count: float = Field(description="CPU cores each replica's containers may use.")
    memory_bytes: int = Field(description="Memory each replica's containers may use, in bytes.")
    gpu_count: int = Field(default=0, description="GPUs per replica (none in this release).")
    gpu_maker: str | None = None
    gpu_type_label: str | None = None


_MB = 1000**2
_GB = 1000**3

# The sizes every server offers, smallest first (the catalog's order).
CATALOG: dict[str, Bundle] = {
    bundle.id: bundle
    for bundle in (
        Bundle(
            id="cpu.small",
            name="CPU small",
            description="Half a CPU core and 512 MB of memory.",
            cpu_count=0.5,
            memory_bytes=512 * _MB,
        ),
        Bundle(
            id="cpu.medium",
            name="CPU medium",
            description="One CPU core and 1 GB of memory.",
            cpu_count=1.0,
            memory_bytes=_GB,
        ),
        Bundle(
            id="cpu.large",
            name="CPU large",
            description="Two CPU cores and 4 GB of memory.",
            cpu_count=2.0,
            memory_bytes=4 * _GB,
        ),
    )
}


def resolve(bundle_ids: Iterable[str]) -> Bundle | None:
    """The bundle a group runs with: the first of its preferences the catalog knows."""
    for bundle_id in bundle_ids:
        bundle = CATALOG.get(bundle_id)
        if bundle is not None:
            return bundle
    return None
