"""A load step past an autoscaled workload's threshold: the proxy reports its load and asks
its reconciler for a pass at once, rather than waiting for the next report and evaluation.

Real server and upstream; the reconciler is not running, so the test stands in for its nudge
and writes what a pass would have stored (the group's count in `Proton.scale`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from dockyard.server.autoscaling import repository as load_reports
from dockyard.server.workloads.models import Proton
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec
from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import Upstream

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # every report counts, however old


def _scaled_workload(live: Live, port: int, desired: int = 1, high: int = 3) -> str:
    scaling = {
        "minReplicaCount": 1,
        "maxReplicaCount": high,
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 1}],
    }
    body = {
        "name": "scaled",
        "artifact": {"name": "scaled", "spec": service_spec()},
        "runtime": {"containerGroups": [{"name": "default", "autoscaling": scaling}]},
    }
    response = live.admin.post("/api/v2/workloads", json=body)
    assert response.status_code == 201, response.text
    workload_id: str = response.json()["id"]
    with live.app.state.db.unit_of_work() as session:
        session.execute(
            update(Proton)
            .where(Proton.workload_id == workload_id)
            .values(scale={"default": {"desired": desired}})
        )
    live.set_replicas(workload_id, [port])
    return workload_id


@pytest.fixture
def asked(live: Live) -> Iterator[list[str]]:
    """The workloads the proxy asked this server's reconciler to look at."""
    calls: list[str] = []
    before = live.proxy.wake
    live.proxy.wake = calls.append
    yield calls
    live.proxy.wake = before


def _in_flight(
    live: Live, workload_id: str, count: int, delay: float = 0.3
) -> tuple[list[threading.Thread], list[Any]]:
    """`count` slow requests sent at once; returns their answers once all are back."""
    answers: list[Any] = []

    def send() -> None:
        answers.append(
            httpx.get(
                live.invoke_url(workload_id, f"/slow?delay={delay}"),
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
        )

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, answers


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not seen in time"
        time.sleep(0.02)


def test_past_the_target_the_proxy_reports_and_asks_for_a_pass(
    live: Live, upstream: Upstream, asked: list[str]
) -> None:
    workload_id = _scaled_workload(live, upstream.port)
    threads, answers = _in_flight(live, workload_id, 3)
    _wait_for(lambda: workload_id in asked)
    # The report was written before the ask: the pass it asks for reads the step.
    load = load_reports.load_of(live.app.state.db, workload_id, LONG_AGO)
    assert sum(load.in_flight.values()) >= 2
    assert max(load.mean.values()) >= 2
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 3
    assert asked.count(workload_id) == 1  # once per report interval at most


def test_within_the_target_or_at_the_most_nothing_is_asked(
    live: Live, upstream: Upstream, asked: list[str]
) -> None:
    calm = _scaled_workload(live, upstream.port)
    threads, answers = _in_flight(live, calm, 1)
    at_most = _scaled_workload(live, upstream.port, desired=2, high=2)
    more_threads, more_answers = _in_flight(live, at_most, 4)
    for thread in threads + more_threads:
        thread.join()
    assert [a.status_code for a in answers + more_answers] == [200] * 5
    assert asked == []


def test_the_threshold_follows_the_stored_count(live: Live, upstream: Upstream) -> None:
    workload_id = _scaled_workload(live, upstream.port, desired=2)
    route = live.proxy.table.routes[workload_id]
    assert route.scale_up_above == pytest.approx(2 * 1.1)
    with live.app.state.db.unit_of_work(write=False) as session:
        assert session.scalar(select(Proton.scale).where(Proton.workload_id == workload_id))
