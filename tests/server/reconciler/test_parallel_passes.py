"""Passes of different workloads run side by side on a runtime that allows it, never two of
one workload at once, and the cap on running tasks holds while they do."""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.runtimes.base import ObservedReplica, ProtonSpec, ReplicaKey
from dockyard.server.runtimes.fake import FakeRuntime
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec

WAIT = 20.0  # only how long a broken loop may hang the test; never reached when it works


class MeetingRuntime(FakeRuntime):
    """Each start waits until `together` starts are under way at once (or gives up).

    Passes that ran one after the other would never meet: the first start would wait alone.
    The fake's own state is guarded by a lock; the wait happens outside it."""

    concurrent_passes = True

    def __init__(self, together: int) -> None:
        super().__init__()
        self.meeting = threading.Barrier(together, timeout=WAIT)
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}  # workload id → its calls under way
        self.overlapped_itself = False

    def ensure_proton(
        self, spec: ProtonSpec, replicas: Collection[ReplicaKey] | None = None
    ) -> list[ObservedReplica]:
        with self.lock:
            self.in_flight[spec.workload_id] = self.in_flight.get(spec.workload_id, 0) + 1
            self.overlapped_itself |= self.in_flight[spec.workload_id] > 1
        try:
            self.meeting.wait()
            with self.lock:
                return super().ensure_proton(spec, replicas)
        finally:
            with self.lock:
                self.in_flight[spec.workload_id] -= 1

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        with self.lock:
            return super().observe(proton_id)


def _app(settings: Settings, runtime: FakeRuntime, workers: int) -> Any:
    tuned = settings.model_copy(update={"reconcile_workers": workers})
    return create_app(tuned, runtime=runtime, run_reconciler=False)


@pytest.fixture
def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _post(client: TestClient, spec: dict[str, Any]) -> str:
    response = client.post("/api/v2/workloads", json={"artifact": {"name": "a", "spec": spec}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _statuses(client: TestClient, ids: list[str]) -> list[str]:
    return [client.get(f"/api/v2/workloads/{w}").json()["status"] for w in ids]


def test_workloads_start_side_by_side(settings: Settings, headers: dict[str, str]) -> None:
    runtime = MeetingRuntime(together=4)
    app = _app(settings, runtime, workers=4)
    try:
        with TestClient(app, headers=headers) as client:
            ids = [_post(client, service_spec()) for _ in range(4)]
            app.state.reconciler.run_pending()
            assert not runtime.meeting.broken  # all four starts were under way at once
            assert len([c for c in runtime.calls if c[0] == "ensure_proton"]) == 4
            assert all(s != "submitted" for s in _statuses(client, ids))
            assert not runtime.overlapped_itself
    finally:
        app.state.db.dispose()


def test_with_one_worker_passes_run_one_at_a_time(
    settings: Settings, headers: dict[str, str]
) -> None:
    # The same meeting of two never happens: the first start gives up waiting for a second.
    runtime = MeetingRuntime(together=2)
    runtime.meeting = threading.Barrier(2, timeout=0.5)
    app = _app(settings, runtime, workers=1)
    try:
        with TestClient(app, headers=headers) as client:
            for _ in range(2):
                _post(client, service_spec())
            app.state.reconciler.run_pending()
            assert runtime.meeting.broken
    finally:
        app.state.db.dispose()


def test_a_runtime_that_does_not_allow_it_gets_one_pass_at_a_time(settings: Settings) -> None:
    app = _app(settings, FakeRuntime(), workers=8)
    try:
        assert app.state.reconciler.ctx.workers == 1
    finally:
        app.state.db.dispose()


def test_the_running_task_cap_holds_when_tasks_start_side_by_side(
    settings: Settings, headers: dict[str, str]
) -> None:
    runtime = MeetingRuntime(together=2)
    tuned = settings.model_copy(update={"max_running_tasks": 2})
    app = _app(tuned, runtime, workers=4)
    try:
        with TestClient(app, headers=headers) as client:
            task = service_spec()
            primary = task["containerGroups"][0]["containers"][0]
            for key in ("port", "readinessProbe", "livenessProbe", "startupProbe"):
                primary.pop(key, None)  # no port: a task
            ids = [_post(client, task) for _ in range(4)]
            app.state.reconciler.run_pending()
            statuses = _statuses(client, ids)
            assert statuses.count("submitted") == 2, statuses
            assert len([c for c in runtime.calls if c[0] == "ensure_proton"]) == 2
    finally:
        app.state.db.dispose()
