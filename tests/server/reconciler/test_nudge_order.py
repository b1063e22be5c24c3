"""A nudged workload's pass runs before the passes that are merely due at the same moment:
what a user just asked for does not wait behind the routine look at every other workload."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.reconciler.loop import Reconciler
from dockyard.server.runtimes.base import ObservedReplica
from dockyard.server.runtimes.fake import FakeRuntime
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec


class RecordingRuntime(FakeRuntime):
    """The fake runtime, noting which proton each look was at, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_at: list[str] = []

    def observe(self, proton_id: str) -> list[ObservedReplica]:
        self.looked_at.append(proton_id)
        return super().observe(proton_id)


def test_a_nudged_workload_goes_before_the_due_ones(settings: Settings) -> None:
    runtime = RecordingRuntime()
    app = create_app(settings, runtime=runtime, run_reconciler=False)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with TestClient(app, headers=headers) as client:
            body = {"artifact": {"name": "a", "spec": service_spec()}}
            for _ in range(3):
                assert client.post("/api/v2/workloads", json=body).status_code == 201
            app.state.reconciler.run_pending()
            # A server that has just started: every workload is due at its first sweep.
            reconciler = Reconciler(app.state.reconciler.ctx)
            newest = client.post("/api/v2/workloads", json=body).json()["id"]
            reconciler.nudge(newest)  # ids are time-ordered: the newest sorts last
            runtime.looked_at.clear()
            runtime.calls.clear()
            assert reconciler.run_pending() == 4
        started = [call[1] for call in runtime.calls if call[0] == "ensure_proton"]
        assert runtime.looked_at[0] == started[0]  # the new workload's proton, first
        assert len(set(runtime.looked_at)) == 4
    finally:
        app.state.db.dispose()


def test_a_nudge_in_the_middle_of_a_round_goes_next(settings: Settings) -> None:
    runtime = RecordingRuntime()
    app = create_app(settings, runtime=runtime, run_reconciler=False)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with TestClient(app, headers=headers) as client:
            body = {"artifact": {"name": "a", "spec": service_spec()}}
            owners = {}  # proton id → workload id
            for _ in range(3):
                workload_id = client.post("/api/v2/workloads", json=body).json()["id"]
                app.state.reconciler.run_pending()
                proton = client.get(f"/api/v2/workloads/{workload_id}/protons").json()["data"]
                owners[proton[0]["id"]] = workload_id
            reconciler = Reconciler(app.state.reconciler.ctx)  # all three are due at once
            first_look = runtime.observe
            seen: list[str] = []

            def look_and_nudge(proton_id: str) -> list[ObservedReplica]:
                if proton_id not in seen:
                    seen.append(proton_id)
                    if len(seen) == 3:
                        # During the round's last pass, a user changes the workload whose
                        # pass came first in the round: it is looked at again, next.
                        reconciler.nudge(owners[seen[0]])
                return first_look(proton_id)

            runtime.observe = look_and_nudge  # type: ignore[method-assign]
            runtime.looked_at.clear()
            reconciler.run_pending()
        # One pass may look at its proton twice (again under its lease): passes, in order.
        looks = runtime.looked_at
        passes = [p for i, p in enumerate(looks) if i == 0 or looks[i - 1] != p]
        assert passes == [seen[0], seen[1], seen[2], seen[0]]
    finally:
        app.state.db.dispose()


def test_what_the_runtime_reports_is_looked_at_now_but_not_a_strangers(
    settings: Settings,
) -> None:
    runtime = RecordingRuntime()
    app = create_app(settings, runtime=runtime, run_reconciler=False)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with TestClient(app, headers=headers) as client:
            body = {"artifact": {"name": "a", "spec": service_spec()}}
            owners = {}  # proton id → workload id
            for _ in range(3):
                workload_id = client.post("/api/v2/workloads", json=body).json()["id"]
                app.state.reconciler.run_pending()
                proton = client.get(f"/api/v2/workloads/{workload_id}/protons").json()["data"]
                owners[proton[0]["id"]] = workload_id
            reconciler = app.state.reconciler
            last = max(owners, key=lambda p: owners[p])
            runtime.looked_at.clear()
            reconciler.notice(owners[last])
            reconciler.notice("w-of-another-installation")  # never seen here: not looked for
            reconciler.run_pending()
            # First, though it sorts after the others should they have fallen due meanwhile.
            assert runtime.looked_at[0] == last
            assert "w-of-another-installation" not in reconciler._next
    finally:
        app.state.db.dispose()
