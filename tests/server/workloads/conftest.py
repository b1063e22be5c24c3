"""Workload tests on the fake runtime: virtual clock, fake-answered probes, passes on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.kit.clock import utcnow
from dockyard.server.runtimes.fake import (
    FakeClock,
    FakeRuntime,
    ScriptedRuntime,
    SelfHealingFakeRuntime,
)
from dockyard.server.settings import Settings
from tests.factories import service_spec

# For tests that must hold whoever runs health: the reconciler (it probes and restarts) or
# the runtime (it reports readiness and restarts on its own, as Kubernetes does).
EITHER_HEALTH = pytest.mark.parametrize("runtime_mode", ["probed", "self-healing"])


@dataclass
class Fake:
    """The handles a reconciler test needs."""

    app: Any
    runtime: ScriptedRuntime
    clock: FakeClock

    def passes(self, count: int = 1) -> None:
        """Run one reconcile pass over every workload, `count` times, without moving time."""
        reconciler = self.app.state.reconciler
        from dockyard.server.reconciler import repository

        for _ in range(count):
            for workload_id in repository.workload_versions(reconciler.ctx.db):
                reconciler.nudge(workload_id)
            reconciler.run_pending()

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move virtual time forward in steps, with a pass over every workload at each step."""
        moved = 0.0
        while moved < seconds:
            delta = min(step, seconds - moved)
            self.clock.advance(delta)
            moved += delta
            self.passes()


@pytest.fixture
def runtime_mode() -> str:
    """Who runs health in a test: the reconciler unless the test says otherwise."""
    return "probed"


@pytest.fixture
def app(settings: Settings, runtime_mode: str):  # type: ignore[no-untyped-def]
    # Reconcile passes run only when a test asks (app.state.reconciler.run_pending()).
    runtime = SelfHealingFakeRuntime() if runtime_mode == "self-healing" else FakeRuntime()
    application = create_app(settings, runtime=runtime, run_reconciler=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def fake(app) -> Fake:  # type: ignore[no-untyped-def]
    runtime: ScriptedRuntime = app.state.runtime
    clock = FakeClock(utcnow())
    runtime.clock = clock
    ctx = app.state.reconciler.ctx
    ctx.clock = clock  # probes, if the reconciler runs them, are answered by the fake itself
    return Fake(app=app, runtime=runtime, clock=clock)


def spec_with(**primary: Any) -> dict[str, Any]:
    """The factories' service spec with fields of the primary container replaced."""
    spec = service_spec()
    spec["containerGroups"][0]["containers"][0].update(primary)
    return spec


def fast_spec(**primary: Any) -> dict[str, Any]:
    """A spec whose readiness probe starts at once and runs every second."""
    return spec_with(
        readinessProbe={"path": "/", "initialDelaySeconds": 0, "periodSeconds": 1}, **primary
    )


def create_workload(client: TestClient, **body: Any) -> dict[str, Any]:
    if "artifactId" not in body and "artifact" not in body:
        body["artifact"] = {"name": body.get("name", "app"), "spec": fast_spec()}
    response = client.post("/api/v2/workloads", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def status_of(client: TestClient, workload_id: str) -> str:
    response = client.get(f"/api/v2/workloads/{workload_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


def events_of(client: TestClient, workload_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v2/workloads/{workload_id}/events")
    assert response.status_code == 200, response.text
    return response.json()["data"]
