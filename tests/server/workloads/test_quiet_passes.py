"""Passes over a workload that runs as recorded: they must neither write nor re-read, and must
still notice a crash, a failing probe and a change made behind the reconciler's back.

Here passes run the way the reconciler thread runs them (`reconcile_workload` without a
nudge), not through the tests' `fake.passes()`, which nudges every workload."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, update

from dockyard.server.reconciler.pipeline import reconcile_workload
from dockyard.server.runtimes.fake import FakeBehavior
from dockyard.server.workloads.models import Workload
from tests.server.workloads.conftest import Fake, create_workload, events_of, fast_spec, status_of


@contextmanager
def statements(fake: Fake) -> Iterator[list[str]]:
    """Every SQL statement the reconciler sends inside the block."""
    engine = fake.app.state.db.engine
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def unnudged_pass(fake: Fake, workload_id: str, seconds: float = 1.0) -> None:
    fake.clock.advance(seconds)
    reconcile_workload(fake.app.state.reconciler.ctx, workload_id)


def running(client: TestClient, fake: Fake, **body: object) -> dict:
    created = create_workload(client, **body)
    fake.advance(3)
    assert status_of(client, created["id"]) == "running"
    return created


def test_a_pass_over_a_workload_running_as_recorded_touches_no_database(
    client: TestClient, fake: Fake
) -> None:
    body = running(client, fake)
    unnudged_pass(fake, body["id"])  # the first one reads the snapshot it then keeps
    with statements(fake) as seen:
        for _ in range(5):
            unnudged_pass(fake, body["id"])
    assert seen == []


def test_a_crash_is_noticed_and_restarted_by_an_unnudged_pass(
    client: TestClient, fake: Fake
) -> None:
    body = running(client, fake)
    unnudged_pass(fake, body["id"])
    fake.runtime.crash(body["protonId"], "default", 0, exit_code=3)
    unnudged_pass(fake, body["id"])
    restarted = [e for e in events_of(client, body["id"]) if e["eventType"] == "replica_restarted"]
    assert restarted and "exited with code 3" in restarted[0]["details"]["reason"]
    for _ in range(3):
        unnudged_pass(fake, body["id"])
    assert status_of(client, body["id"]) == "running"
    ready = [e for e in events_of(client, body["id"]) if e["eventType"] == "replica_ready"]
    assert len(ready) == 2  # once at the start, once after the restart


def test_a_failing_liveness_probe_restarts_through_unnudged_passes(
    client: TestClient, fake: Fake
) -> None:
    fake.runtime.script("sick:1", FakeBehavior(live=False), FakeBehavior(live=True))
    liveness = {"path": "/live", "initialDelaySeconds": 0, "periodSeconds": 1}
    spec = fast_spec(imageUri="sick:1", livenessProbe={**liveness, "failureThreshold": 3})
    body = create_workload(client, artifact={"name": "sick", "spec": spec})
    fake.passes()  # the nudge after the create: the replica starts
    for _ in range(8):
        unnudged_pass(fake, body["id"])
    events = events_of(client, body["id"])
    assert [e for e in events if e["eventType"] == "probe_failed"]
    restarted = [e for e in events if e["eventType"] == "replica_restarted"]
    assert len(restarted) == 1 and "liveness" in restarted[0]["details"]["reason"]
    assert status_of(client, body["id"]) == "running"


def test_a_change_behind_the_reconcilers_back_is_seen_after_the_sweep(
    client: TestClient, fake: Fake
) -> None:
    body = running(client, fake)
    reconciler = fake.app.state.reconciler
    unnudged_pass(fake, body["id"])
    assert body["id"] in reconciler.ctx.snapshots
    # Another server sharing the database stops the workload: no nudge reaches this one.
    with fake.app.state.db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == body["id"])
            .values(desired_state="stopped", generation=Workload.generation + 1)
        )
    reconciler._sweep_requested = True
    reconciler.run_pending()  # the sweep finds the row changed and drops the kept snapshot
    assert body["id"] not in reconciler.ctx.snapshots
    unnudged_pass(fake, body["id"])  # the workload's next pass, when it falls due
    assert status_of(client, body["id"]) in ("stopping", "stopped")


def test_a_pass_that_finds_the_workload_changed_under_its_lease_decides_again(
    client: TestClient, fake: Fake
) -> None:
    body = running(client, fake)
    unnudged_pass(fake, body["id"])  # keeps the snapshot: the workload should run
    # Another server stops it, and the replica crashes before this server's sweep sees that.
    with fake.app.state.db.unit_of_work() as session:
        session.execute(
            update(Workload)
            .where(Workload.id == body["id"])
            .values(desired_state="stopped", generation=Workload.generation + 1)
        )
    fake.runtime.crash(body["protonId"], "default", 0, exit_code=3)
    unnudged_pass(fake, body["id"])  # decided "restart" on the kept snapshot, then took the lease
    assert fake.runtime.restarts() == 0  # what the lease holds says stop, so nothing restarted
    assert status_of(client, body["id"]) in ("stopping", "stopped")
