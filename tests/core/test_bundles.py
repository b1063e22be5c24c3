"""`resolvedBundle` is derived from `resourceBundles`, whatever a body says."""

from __future__ import annotations

from dockyard.core.bundles import CATALOG, resolve
from dockyard.core.workloads import GroupRuntime

NEWER = {"id": "gpu.new", "name": "GPU", "cpuCount": 4, "memoryBytes": 1, "gpuCount": 1}


def test_resolve_takes_the_first_known_preference() -> None:
    assert resolve(["gpu.unknown", "cpu.large", "cpu.small"]) == CATALOG["cpu.large"]
    assert resolve([]) is None and resolve(["gpu.unknown"]) is None


def test_the_resolved_bundle_follows_resource_bundles() -> None:
    group = GroupRuntime.model_validate({"resourceBundles": ["cpu.medium"]})
    assert group.resolved_bundle == CATALOG["cpu.medium"]
    sent = GroupRuntime.model_validate({"resourceBundles": ["cpu.small"], "resolvedBundle": NEWER})
    assert sent.resolved_bundle == CATALOG["cpu.small"]
    assert GroupRuntime.model_validate({"resolvedBundle": NEWER}).resolved_bundle is None
    assert GroupRuntime.model_validate({"resolvedBundle": "x"}).resolved_bundle is None


def test_a_bundle_this_catalog_does_not_know_keeps_what_the_server_said() -> None:
    """An SDK older than its server reads a bundle id it has never heard of."""
    read = GroupRuntime.model_validate({"resourceBundles": ["gpu.new"], "resolvedBundle": NEWER})
    assert read.resolved_bundle is not None and read.resolved_bundle.id == "gpu.new"
