"""How often a running task is looked at: often, unless the runtime reports exits."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.reconciler import repository
from dockyard.server.reconciler.pipeline import TASK_LOOK_SECONDS, reconcile_workload
from dockyard.server.runtimes.fake import FakeRuntime
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec


class ReportingRuntime(FakeRuntime):
    def __init__(self, reports: bool) -> None:
        super().__init__()
        self.reports = reports

    def watches_exits(self) -> bool:
        return self.reports


def _create_task(app: Any, task: dict[str, Any]) -> str:
    """Created through the API; the passes then run with the app's client closed, as the
    reconciler's own thread would run them."""
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        body = {"artifact": {"name": "t", "spec": task}}
        return client.post("/api/v2/workloads", json=body).json()["id"]


@pytest.mark.parametrize("reports", [True, False])
def test_a_running_task_is_looked_at_often_only_without_reports(
    settings: Settings, reports: bool
) -> None:
    app = create_app(settings, runtime=ReportingRuntime(reports), run_reconciler=False)
    task = service_spec()
    primary = task["containerGroups"][0]["containers"][0]
    for key in ("port", "readinessProbe"):
        del primary[key]
    try:
        workload_id = _create_task(app, task)
        ctx = app.state.reconciler.ctx
        reconcile_workload(ctx, workload_id)  # starts it
        delay = reconcile_workload(ctx, workload_id)
        assert repository.load(ctx.db, workload_id, ctx.clock()).status == "running"
        if reports:
            assert delay == pytest.approx(ctx.sweep_seconds)
        else:
            assert delay == pytest.approx(TASK_LOOK_SECONDS)
    finally:
        app.state.db.dispose()


class CountingRuntime(FakeRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.looks: list[str] = []

    def observe(self, proton_id: str):  # type: ignore[no-untyped-def]
        self.looks.append(proton_id)
        return super().observe(proton_id)


def test_a_task_that_never_started_is_started_without_a_look_first(settings: Settings) -> None:
    runtime = CountingRuntime()
    app = create_app(settings, runtime=runtime, run_reconciler=False)
    task = service_spec()
    primary = task["containerGroups"][0]["containers"][0]
    for key in ("port", "readinessProbe"):
        del primary[key]
    try:
        workload_id = _create_task(app, task)
        ctx = app.state.reconciler.ctx
        reconcile_workload(ctx, workload_id)
        assert [call[0] for call in runtime.calls] == ["ensure_proton"]
        assert runtime.looks == []
        reconcile_workload(ctx, workload_id)  # started: from now on it is looked at
        assert len(runtime.looks) == 1
    finally:
        app.state.db.dispose()
