"""Rolling replacement, runtime settings rollouts, promote and history on the fake runtime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from dockyard.server.runtimes.fake import FakeBehavior
from tests.server.workloads.conftest import EITHER_HEALTH, Fake, events_of, fast_spec, status_of

API = "/api/v2"


def _locked(client: TestClient, name: str, image: str = "img:v1", repo: str | None = None) -> dict:
    body: dict[str, Any] = {"name": name, "spec": fast_spec(imageUri=image), "status": "locked"}
    if repo:
        body["artifactRepositoryId"] = repo
    response = client.post(f"{API}/artifacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _running(client: TestClient, fake: Fake, artifact_id: str) -> dict[str, Any]:
    workload = client.post(f"{API}/workloads", json={"artifactId": artifact_id}).json()
    fake.advance(2)
    assert status_of(client, workload["id"]) == "running"
    return workload


def _replace(client: TestClient, workload_id: str, artifact_id: str, **config: int):
    body = {"artifactId": artifact_id, "strategy": "rolling", "config": config}
    return client.post(f"{API}/workloads/{workload_id}/replacement", json=body)


def _roles(client: TestClient, workload_id: str) -> dict[str, str]:
    protons = client.get(f"{API}/workloads/{workload_id}/protons").json()["data"]
    return {p["id"]: p["role"] for p in protons}


@EITHER_HEALTH
def test_replacement_switches_then_drains_the_old_version(client: TestClient, fake: Fake) -> None:
    v1 = _locked(client, "svc", "img:v1")
    v2 = _locked(client, "svc", "img:v2", repo=v1["artifactRepositoryId"])
    workload = _running(client, fake, v1["id"])
    old_proton = workload["protonId"]
    started = _replace(client, workload["id"], v2["id"])
    assert started.status_code == 202, started.text
    replacement = started.json()
    assert replacement["status"] == "submitted" and replacement["candidateArtifactId"] == v2["id"]
    assert client.get(f"{API}/workloads/{workload['id']}").json()["replacement"]["status"]
    fake.advance(2)
    body = client.get(f"{API}/workloads/{workload['id']}").json()
    assert body["artifactId"] == v2["id"]
    assert body["status"] == "running"
    assert body["protonId"] == replacement["candidateProtonIds"][0]
    assert _roles(client, workload["id"])[old_proton] == "draining"
    assert fake.runtime.observe(old_proton)  # still there while it drains
    fake.advance(6)
    assert _roles(client, workload["id"])[old_proton] == "retired"
    assert fake.runtime.observe(old_proton) == []
    assert client.get(f"{API}/workloads/{workload['id']}/replacement").status_code == 404
    history = client.get(f"{API}/workloads/{workload['id']}/history").json()["data"]
    assert [(h["kind"], h["status"]) for h in history] == [("replacement", "completed")]
    kinds = [e["eventType"] for e in events_of(client, workload["id"])]
    assert "replacement_switched" in kinds and "replacement_completed" in kinds


@EITHER_HEALTH
def test_failing_candidate_leaves_the_active_version_serving(
    client: TestClient, fake: Fake
) -> None:
    v1 = _locked(client, "svc", "img:good")
    v2 = _locked(client, "svc", "img:bad", repo=v1["artifactRepositoryId"])
    fake.runtime.script("img:bad", FakeBehavior(fail_to_start=True))
    workload = _running(client, fake, v1["id"])
    replacement = _replace(client, workload["id"], v2["id"]).json()
    fake.advance(400, step=5)
    body = client.get(f"{API}/workloads/{workload['id']}").json()
    assert body["artifactId"] == v1["id"] and body["status"] == "running"
    assert body["protonId"] == workload["protonId"]
    history = client.get(f"{API}/workloads/{workload['id']}/history").json()["data"]
    assert history[0]["status"] == "errored" and history[0]["message"]
    assert fake.runtime.observe(replacement["candidateProtonIds"][0]) == []


def test_replacement_rules(client: TestClient, fake: Fake) -> None:
    v1 = _locked(client, "svc")
    v2 = _locked(client, "svc", repo=v1["artifactRepositoryId"])
    draft = client.post(f"{API}/artifacts", json={"name": "d", "spec": fast_spec()}).json()
    workload = _running(client, fake, v1["id"])
    mismatch = _replace(client, workload["id"], draft["id"])
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "artifact_status_mismatch"
    same = _replace(client, workload["id"], v1["id"])
    assert same.status_code == 422 and same.json()["code"] == "same_artifact"
    missing = _replace(client, workload["id"], "0" * 24)
    assert missing.status_code == 404 and missing.json()["code"] == "artifact_not_found"
    assert _replace(client, workload["id"], v2["id"]).status_code == 202
    again = _replace(client, workload["id"], v2["id"])
    assert again.status_code == 409 and again.json()["code"] == "replacement_in_progress"
    settings = client.patch(
        f"{API}/workloads/{workload['id']}/settings",
        json={"runtime": {"containerGroups": [{"name": "default", "replicaCount": 2}]}},
    )
    assert settings.status_code == 409 and settings.json()["code"] == "replacement_in_progress"
    canceled = client.delete(f"{API}/workloads/{workload['id']}/replacement")
    assert canceled.status_code == 202 and canceled.json()["status"] == "canceled"
    fake.passes(2)
    assert client.delete(f"{API}/workloads/{workload['id']}/replacement").status_code == 404
    assert client.get(f"{API}/workloads/{workload['id']}").json()["artifactId"] == v1["id"]


def test_settings_roll_out_a_new_runtime(client: TestClient, fake: Fake) -> None:
    workload = _running(client, fake, _locked(client, "svc")["id"])
    runtime = {"containerGroups": [{"name": "default", "replicaCount": 2}]}
    response = client.patch(f"{API}/workloads/{workload['id']}/settings", json={"runtime": runtime})
    assert response.status_code == 202 and response.json()["kind"] == "settings"
    fake.advance(3)
    body = client.get(f"{API}/workloads/{workload['id']}").json()
    assert body["runtime"]["containerGroups"][0]["replicaCount"] == 2
    assert len(fake.runtime.observe(body["protonId"])) == 2
    settings = client.get(f"{API}/workloads/{workload['id']}/settings").json()
    assert settings["runtime"]["containerGroups"][0]["replicaCount"] == 2


def test_warm_up_delays_the_switch(client: TestClient, fake: Fake) -> None:
    v1 = _locked(client, "svc")
    v2 = _locked(client, "svc", repo=v1["artifactRepositoryId"])
    workload = _running(client, fake, v1["id"])
    _replace(client, workload["id"], v2["id"], warmupDurationMinutes=1)
    fake.advance(30)
    assert client.get(f"{API}/workloads/{workload['id']}").json()["artifactId"] == v1["id"]
    assert client.get(f"{API}/workloads/{workload['id']}/replacement").json()["status"] == (
        "awaiting_promotion"
    )
    fake.advance(40)
    assert client.get(f"{API}/workloads/{workload['id']}").json()["artifactId"] == v2["id"]


def test_rollback_to_an_earlier_version_is_recorded(client: TestClient, fake: Fake) -> None:
    v1 = _locked(client, "svc")
    v2 = _locked(client, "svc", repo=v1["artifactRepositoryId"])
    workload = _running(client, fake, v2["id"])
    response = _replace(client, workload["id"], v1["id"])
    assert response.json()["kind"] == "rollback"


def test_promote_locks_the_draft_in_place(client: TestClient, fake: Fake) -> None:
    body = {"artifact": {"name": "dev", "spec": fast_spec()}}
    workload = client.post(f"{API}/workloads", json=body).json()
    assert workload["expiresAt"] is not None
    fake.advance(2)
    promoted = client.post(f"{API}/workloads/{workload['id']}/promote")
    assert promoted.status_code == 202, promoted.text
    after = promoted.json()
    assert after["id"] == workload["id"] and after["endpoint"] == workload["endpoint"]
    assert after["artifact"]["status"] == "locked" and after["artifact"]["version"] == 1
    assert after["expiresAt"] is None
    assert after["protonId"] == workload["protonId"]  # no restart
    again = client.post(f"{API}/workloads/{workload['id']}/promote")
    assert again.status_code == 422 and again.json()["code"] == "artifact_not_draft"
    history = client.get(f"{API}/workloads/{workload['id']}/history").json()["data"]
    assert history[0]["kind"] == "promote"


def test_promote_needs_a_running_workload(client: TestClient, fake: Fake) -> None:
    body = {"artifact": {"name": "dev", "spec": fast_spec()}}
    workload = client.post(f"{API}/workloads", json=body).json()
    fake.advance(2)
    client.post(f"{API}/workloads/{workload['id']}/stop")
    fake.advance(2)
    response = client.post(f"{API}/workloads/{workload['id']}/promote")
    assert response.status_code == 422 and response.json()["code"] == "promote_not_allowed"


def test_warm_up_is_timed_by_the_reconcilers_clock(client: TestClient, fake: Fake) -> None:
    # The reconciler's clock, not the wall clock, times the warm-up: here the wall clock runs
    # an hour ahead of it, as it does by the length of any pass on a busy machine.
    fake.clock.now -= timedelta(hours=1)
    v1 = _locked(client, "svc")
    v2 = _locked(client, "svc", repo=v1["artifactRepositoryId"])
    workload = _running(client, fake, v1["id"])
    _replace(client, workload["id"], v2["id"], warmupDurationMinutes=1)
    fake.advance(30)
    assert client.get(f"{API}/workloads/{workload['id']}/replacement").json()["status"] == (
        "awaiting_promotion"
    )
    fake.advance(40)
    assert client.get(f"{API}/workloads/{workload['id']}").json()["artifactId"] == v2["id"]
