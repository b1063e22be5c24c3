"""`runtime.containerGroups[].autoscaling` on create, settings and replacement: both shapes,
the rules, and the counts responses carry."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.settings import Settings
from tests.factories import create_artifact
from tests.server.workloads.conftest import Fake, create_workload

API = "/api/v2"


def _group(autoscaling: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"containerGroups": [{"name": "default", "autoscaling": autoscaling, **extra}]}


def _concurrency(**bounds: Any) -> dict[str, Any]:
    return {
        "policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 2}],
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        **bounds,
    }


def _create(client: TestClient, runtime: dict[str, Any]) -> Any:
    artifact = create_artifact(client)
    return client.post(f"{API}/workloads", json={"artifactId": artifact["id"], "runtime": runtime})


def test_the_new_shape_is_kept_and_shown_in_both_shapes(client: TestClient) -> None:
    # Counts a client echoes back from an earlier answer are the server's to say, not its.
    response = _create(client, _group(_concurrency(), currentReplicaCount=7, desiredReplicaCount=9))
    assert response.status_code == 201, response.text
    group = response.json()["runtime"]["containerGroups"][0]
    scaling = group["autoscaling"]
    assert scaling["enabled"] is True
    assert (scaling["minReplicaCount"], scaling["maxReplicaCount"]) == (1, 4)
    policy = scaling["policies"][0]
    assert (policy["minCount"], policy["maxCount"]) == (1, 4)  # the older clients' names
    assert group["replicaCount"] is None
    assert group["desiredReplicaCount"] == 1 and group["currentReplicaCount"] == 0


def test_the_older_shape_is_hoisted(client: TestClient) -> None:
    legacy = {
        "policies": [
            {"scalingMetric": "httpRequestsConcurrency", "target": 5, "minCount": 2,
             "maxCount": 6, "priority": 1},
        ]
    }  # fmt: skip
    response = _create(client, _group(legacy))
    assert response.status_code == 201, response.text
    scaling = response.json()["runtime"]["containerGroups"][0]["autoscaling"]
    assert (scaling["minReplicaCount"], scaling["maxReplicaCount"]) == (2, 6)
    assert scaling["policies"][0]["priority"] == 1
    got = client.get(f"{API}/workloads/{response.json()['id']}").json()
    assert got["runtime"]["containerGroups"][0]["autoscaling"] == scaling


@pytest.mark.parametrize(
    ("runtime", "where"),
    [
        (_group(_concurrency(), replicaCount=2), "replicaCount"),
        (_group(_concurrency(minReplicaCount=5)), "above maxReplicaCount"),
        (_group(_concurrency(maxReplicaCount=0)), "greater than or equal to 1"),
        (
            _group({"policies": [{"scalingMetric": "httpRequestsConcurrency", "target": 1}]}),
            "maxReplicaCount",
        ),
        (_group(_concurrency(policies=[])), "at least one policy"),
        (
            _group(_concurrency(policies=[{"scalingMetric": "requestsPerMoon", "target": 1}])),
            "scalingMetric",
        ),
        (
            _group(
                _concurrency(policies=[{"scalingMetric": "httpRequestsConcurrency", "target": 0}])
            ),
            "target",
        ),
        (
            _group(
                {
                    "minReplicaCount": 0,
                    "maxReplicaCount": 2,
                    "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 50}],
                }
            ),
            "httpRequestsConcurrency",
        ),
    ],  # fmt: skip
    ids=[
        "replicaCount-with-enabled",
        "min-above-max",
        "max-zero",
        "no-max",
        "no-policy",
        "unknown-metric",
        "zero-target",
        "zero-with-cpu-only",
    ],
)
def test_bad_autoscaling_is_a_plain_422(
    client: TestClient, runtime: dict[str, Any], where: str
) -> None:
    response = _create(client, runtime)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert where in str(body["detail"])


def test_disabled_autoscaling_keeps_replica_count(client: TestClient) -> None:
    response = _create(client, _group({"enabled": False, "policies": []}, replicaCount=2))
    assert response.status_code == 201, response.text
    group = response.json()["runtime"]["containerGroups"][0]
    assert group["replicaCount"] == 2 and group["desiredReplicaCount"] == 2


def test_nim_metrics_are_not_supported(client: TestClient) -> None:
    runtime = _group(
        _concurrency(policies=[{"scalingMetric": "gpuCacheUtilization", "target": 0.5}])
    )
    response = _create(client, runtime)
    assert response.status_code == 422
    assert response.json()["code"] == "type_not_supported"
    assert isinstance(response.json()["detail"], str)


def test_cpu_needs_a_cpu_limit(client: TestClient) -> None:
    cpu = {"minReplicaCount": 1, "maxReplicaCount": 3,
           "policies": [{"scalingMetric": "cpuAverageUtilization", "target": 60}]}  # fmt: skip
    response = _create(client, _group(cpu))
    assert response.status_code == 422
    assert response.json()["code"] == "metric_not_available"
    limited = _group(cpu, containers=[{"name": "primary", "resourceAllocation": {"cpu": 0.5}}])
    assert _create(client, limited).status_code == 201
    assert _create(client, _group(cpu, resourceBundles=["cpu.small"])).status_code == 201


class TestReplicaCap:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"max_replicas": 3})

    def test_the_replica_cap_is_403(self, client: TestClient, fake: Fake) -> None:
        response = _create(client, _group(_concurrency(maxReplicaCount=4)))
        assert response.status_code == 403
        detail = "Requested replicas (4) exceeds the maximum allowed (3)."
        assert response.json()["detail"] == detail
        assert _create(client, {"containerGroups": [{"replicaCount": 4}]}).status_code == 403
        assert _create(client, _group(_concurrency(maxReplicaCount=3))).status_code == 201
        # And on settings: the cap holds for a running workload's new runtime too.
        workload = create_workload(client)
        fake.advance(3)
        response = client.patch(
            f"{API}/workloads/{workload['id']}/settings",
            json={"runtime": _group(_concurrency(maxReplicaCount=5))},
        )
        assert response.status_code == 403


def test_settings_and_replacement_take_autoscaling(client: TestClient, fake: Fake) -> None:
    workload = create_workload(client)
    fake.advance(3)
    response = client.patch(
        f"{API}/workloads/{workload['id']}/settings",
        json={"runtime": _group(_concurrency(maxReplicaCount=3))},
    )
    assert response.status_code == 202, response.text
    fake.advance(12)
    got = client.get(f"{API}/workloads/{workload['id']}").json()
    group = got["runtime"]["containerGroups"][0]
    assert group["autoscaling"]["maxReplicaCount"] == 3
    assert group["desiredReplicaCount"] == 1 and group["currentReplicaCount"] == 1
    assert got["status"] == "running"
    bad = client.patch(
        f"{API}/workloads/{workload['id']}/settings",
        json={"runtime": _group(_concurrency(), replicaCount=1)},
    )
    assert bad.status_code == 422
