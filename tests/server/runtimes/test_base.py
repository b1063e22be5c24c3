"""The runtime interface: what a new runtime must write, by the kind of runtime it is."""

from __future__ import annotations

from datetime import datetime

import pytest

from dockyard.server.runtimes.base import (
    LogLine,
    ObservedReplica,
    ProtonSpec,
    Runtime,
    RuntimeManagesHealth,
    RuntimePermanentError,
)


class _Verbs:
    """Every verb both kinds of runtime share, doing nothing."""

    name = "minimal"

    def ensure_proton(self, spec: ProtonSpec, replicas: object = None) -> list[ObservedReplica]:
        return []

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        return []

    def stop_proton(self, proton_id: str) -> None:
        return None

    def remove_proton(self, proton_id: str) -> None:
        return None

    def logs(self, proton_id: str, since: datetime | None = None) -> list[LogLine]:
        return []

    def adopt(self, instance_id: str) -> list[str]:
        return []


class _SelfHealing(_Verbs, RuntimeManagesHealth):
    pass


class _Probed(_Verbs, Runtime):
    pass


def test_a_runtime_that_manages_health_needs_no_restart_verb() -> None:
    runtime = _SelfHealing()  # instantiable: nothing abstract is left to write
    with pytest.raises(RuntimePermanentError, match="restarts its own replicas"):
        runtime.restart_replica("p", "default", 0)


def test_a_runtime_whose_health_dockyard_runs_must_restart_replicas() -> None:
    with pytest.raises(TypeError, match="restart_replica"):
        _Probed()  # type: ignore[abstract]
