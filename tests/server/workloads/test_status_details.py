"""`statusDetails` on every workload body: why an errored workload is errored (`reason`,
`message`) and the primary's last lines of output (`logTail`), on the fake runtime."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.runtimes.base import RuntimePermanentError, Waiting
from dockyard.server.runtimes.fake import FakeBehavior
from dockyard.server.settings import Settings
from tests.server.workloads.conftest import (
    EITHER_HEALTH,
    Fake,
    create_workload,
    events_of,
    fast_spec,
)

API = "/api/v2"
PULL_FAILED = (
    "image ghost:1 is not on the container engine and could not be pulled (Get "
    '"https://ghost/v2/": dial tcp: lookup ghost: no such host); build or load it there'
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small budgets so a workload runs out of restarts within a few virtual minutes.
    return settings.model_copy(
        update={"ready_timeout_seconds": 5, "restart_backoff_seconds": 1, "restart_limit": 2}
    )


def _get(client: TestClient, workload_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/workloads/{workload_id}")
    assert response.status_code == 200, response.text
    return response.json()


def _listed(client: TestClient, workload_id: str) -> dict[str, Any]:
    data = client.get(f"{API}/workloads").json()["data"]
    return next(item for item in data if item["id"] == workload_id)


def _unpullable(fake: Fake) -> None:
    fake.runtime.script(
        "ghost:1",
        FakeBehavior(error=RuntimePermanentError(PULL_FAILED, code="image_not_found")),
    )


def test_a_failed_pull_says_why_in_the_workload_body(client: TestClient, fake: Fake) -> None:
    _unpullable(fake)
    body = create_workload(client, artifact={"name": "g", "spec": fast_spec(imageUri="ghost:1")})
    assert body["statusDetails"] == {"logTail": None, "reason": None, "message": None}
    fake.passes(2)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    assert got["statusDetails"]["reason"] == "image_pull_failed"
    assert got["statusDetails"]["message"] == PULL_FAILED
    assert "no such host" in got["statusDetails"]["message"]
    # Nothing ran, so the tail is what the reconciler kept: the engine's words.
    assert got["statusDetails"]["logTail"] == [PULL_FAILED]
    # Lists carry the reason too (the data is on the row, not read from the runtime).
    listed = _listed(client, body["id"])["statusDetails"]
    assert (listed["reason"], listed["message"]) == ("image_pull_failed", PULL_FAILED)
    # The status event names the reason code as well.
    errored = [e for e in events_of(client, body["id"]) if e["details"].get("to") == "errored"]
    assert errored[0]["details"]["code"] == "image_pull_failed"


def test_leaving_errored_clears_the_reason(client: TestClient, fake: Fake) -> None:
    _unpullable(fake)
    body = create_workload(client, artifact={"name": "g", "spec": fast_spec(imageUri="ghost:1")})
    fake.passes(2)
    assert _get(client, body["id"])["statusDetails"]["reason"] == "image_pull_failed"
    assert client.post(f"{API}/workloads/{body['id']}/stop").status_code == 202
    fake.passes(2)
    stopped = _get(client, body["id"])
    assert stopped["status"] == "stopped"
    assert (stopped["statusDetails"]["reason"], stopped["statusDetails"]["message"]) == (
        None,
        None,
    )
    fake.runtime.script("ghost:1", FakeBehavior(output=("serving on 8080",)))
    assert client.post(f"{API}/workloads/{body['id']}/start").status_code == 202
    fake.advance(3)
    running = _get(client, body["id"])
    assert running["status"] == "running"
    assert running["statusDetails"] == {
        "logTail": ["serving on 8080"],
        "reason": None,
        "message": None,
    }


@EITHER_HEALTH
def test_a_crashing_container_ends_in_crash_loop(client: TestClient, fake: Fake) -> None:
    fake.runtime.script(
        "crashy:1", FakeBehavior(fail_to_start=True, output=("cannot open config",))
    )
    body = create_workload(client, artifact={"name": "c", "spec": fast_spec(imageUri="crashy:1")})
    fake.advance(60, step=2)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    details = got["statusDetails"]
    assert details["reason"] == "crash_loop"
    assert "restarted 2 times" in details["message"]
    assert "container could not start" in details["message"]
    # GET reads the primary's output from the runtime: one line per start, the last 50.
    assert details["logTail"] and set(details["logTail"]) == {"cannot open config"}


def test_never_ready_ends_in_ready_timeout(client: TestClient, fake: Fake) -> None:
    fake.runtime.script("deaf:1", FakeBehavior(ready=False))
    body = create_workload(client, artifact={"name": "d", "spec": fast_spec(imageUri="deaf:1")})
    fake.advance(120, step=1)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    assert got["statusDetails"]["reason"] == "ready_timeout"
    assert "not ready 5 s after starting" in got["statusDetails"]["message"]


def test_a_failing_startup_probe_ends_in_probe_failed(client: TestClient, fake: Fake) -> None:
    fake.runtime.script("sick:1", FakeBehavior(ready=False))
    startup = {"path": "/s", "initialDelaySeconds": 0, "periodSeconds": 1, "failureThreshold": 2}
    spec = fast_spec(imageUri="sick:1", startupProbe=startup)
    body = create_workload(client, artifact={"name": "s", "spec": spec})
    fake.advance(120, step=1)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    assert got["statusDetails"]["reason"] == "probe_failed"
    assert "startup" in got["statusDetails"]["message"]


def test_the_log_tail_is_the_primarys_last_50_lines(client: TestClient, fake: Fake) -> None:
    lines = tuple(f"line {n}" for n in range(80))
    fake.runtime.script("chatty:1", FakeBehavior(output=lines))
    body = create_workload(client, artifact={"name": "t", "spec": fast_spec(imageUri="chatty:1")})
    fake.advance(3)
    got = _get(client, body["id"])
    assert got["status"] == "running"
    assert got["statusDetails"]["logTail"] == list(lines[-50:])
    assert got["statusDetails"]["reason"] is None
    # Lists do not read each workload's output from the runtime.
    assert _listed(client, body["id"])["statusDetails"]["logTail"] is None


def test_invoking_an_errored_workload_names_its_status_and_reason(
    client: TestClient, fake: Fake
) -> None:
    _unpullable(fake)
    body = create_workload(client, artifact={"name": "g", "spec": fast_spec(imageUri="ghost:1")})
    fake.passes(2)
    client.portal.call(fake.app.state.routes.refresh)  # type: ignore[union-attr]
    response = client.get(f"{API}/endpoints/workloads/{body['id']}/")
    assert response.status_code == 503
    assert response.json()["code"] == "no_ready_replica"
    assert "errored (image_pull_failed)" in response.json()["message"]
    assert "ghost" not in response.json()["message"]  # the engine's words: for viewers only
    assert "retry-after" not in response.headers


@pytest.mark.parametrize("runtime_mode", ["self-healing"])
def test_an_image_pull_that_never_succeeds_ends_errored_on_a_self_healing_runtime(
    client: TestClient, fake: Fake
) -> None:
    # Kubernetes keeps retrying a pull on its own: Dockyard decides when to stop waiting.
    fake.runtime.script("ghost:2", FakeBehavior(waiting=Waiting.IMAGE_PULL))
    body = create_workload(client, artifact={"name": "g", "spec": fast_spec(imageUri="ghost:2")})
    fake.advance(3, step=1)
    assert _get(client, body["id"])["status"] in ("provisioning", "launching")
    fake.advance(10, step=1)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    assert got["statusDetails"]["reason"] == "image_pull_failed"
    assert "not running 5 s after it was created" in got["statusDetails"]["message"]
    assert "image_pull" in got["statusDetails"]["message"]
    # It stopped the proton, so the runtime does not keep pulling.
    assert any(call[0] == "stop_proton" for call in fake.runtime.calls)


@pytest.mark.parametrize("runtime_mode", ["self-healing"])
def test_a_replica_pending_for_another_reason_ends_in_ready_timeout(
    client: TestClient, fake: Fake
) -> None:
    fake.runtime.script("big:1", FakeBehavior(waiting=Waiting.SCHEDULING))
    body = create_workload(client, artifact={"name": "b", "spec": fast_spec(imageUri="big:1")})
    fake.advance(15, step=1)
    got = _get(client, body["id"])
    assert got["status"] == "errored"
    assert got["statusDetails"]["reason"] == "ready_timeout"
    # A pending replica is the runtime's to bring up: Dockyard asked for it once.
    assert fake.runtime.started() == 1
