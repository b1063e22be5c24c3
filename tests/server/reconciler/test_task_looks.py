"""How often a running task is looked at: often, unless the runtime reports exits."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
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
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
            body = {"artifact": {"name": "t", "spec": task}}
            workload_id = client.post("/api/v2/workloads", json=body).json()["id"]
            ctx = app.state.reconciler.ctx
            reconcile_workload(ctx, workload_id)  # starts it
            delay = reconcile_workload(ctx, workload_id)
            assert client.get(f"/api/v2/workloads/{workload_id}").json()["status"] == "running"
        if reports:
            assert delay == pytest.approx(ctx.sweep_seconds)
        else:
            assert delay == pytest.approx(TASK_LOOK_SECONDS)
    finally:
        app.state.db.dispose()
