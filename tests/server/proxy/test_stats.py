"""Every proxied request is counted, flushed to the database, and served by the stats routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import Upstream, free_port


def _traffic(live: Live, workload_id: str) -> None:
    for _ in range(6):
        assert live.admin.get(live.invoke_url(workload_id, "/echo")).status_code == 200
    for _ in range(3):
        assert live.admin.get(live.invoke_url(workload_id, "/echo?status=404")).status_code == 404
    assert live.admin.get(live.invoke_url(workload_id, "/echo?status=500")).status_code == 500


def test_requests_are_counted_flushed_and_reported(
    live_on_backend: Live, upstream: Upstream
) -> None:
    live = live_on_backend
    workload_id = live.create_workload([upstream.port])
    _traffic(live, workload_id)

    stats = live.admin.get(f"/api/v2/workloads/{workload_id}/stats")
    assert stats.status_code == 200, stats.text
    metrics = stats.json()["metrics"]
    assert metrics["totalRequests"] == 10
    assert metrics["userErrors"] == 3 and metrics["serverErrors"] == 1
    assert metrics["userErrorRate"] == 0.3 and metrics["totalErrorRate"] == 0.4
    assert metrics["concurrentRequests"] >= 1
    assert 0 < metrics["responseTime"] < 1000
    assert metrics["slowRequests"] == 0
    slow_all = live.admin.get(
        f"/api/v2/workloads/{workload_id}/stats", params={"slowRequestsThreshold": 0}
    )
    assert slow_all.json()["metrics"]["slowRequests"] == 10

    # The background flush wrote them too, and the workload's lastResponse moved.
    workload = live.admin.get(f"/api/v2/workloads/{workload_id}").json()
    assert workload["lastResponse"] is not None

    series = live.admin.get(
        f"/api/v2/workloads/{workload_id}/stats/totalRequests",
        params={"resolution": "PT1M", "startTime": _ago(minutes=30)},
    )
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["metric"] == "totalRequests"
    assert body["summary"]["protonId"]
    assert sum(bucket["value"] for bucket in body["buckets"]) == 10
    assert 30 <= len(body["buckets"]) <= 31

    listed = live.admin.get("/api/v2/workloads", params={"serviceStats": "true"}).json()
    summary = next(w for w in listed["data"] if w["id"] == workload_id)["requestStats"]
    assert summary["totalRequests"] == 10 and summary["errorRate"] == 0.4
    assert len(summary["requestRates"]) == 7 and summary["lastRequestAt"]
    plain = live.admin.get("/api/v2/workloads").json()["data"][0]
    assert plain["requestStats"] is None

    overall = live.admin.get("/api/v2/workloads/stats").json()
    assert overall["requests"]["total"] == 10
    assert overall["requests"]["failed"] == 4
    assert overall["workloads"] == {"active": 1, "total": 1}

    cleared = live.admin.delete(f"/api/v2/workloads/{workload_id}/stats")
    assert cleared.status_code == 204
    after = live.admin.get(f"/api/v2/workloads/{workload_id}/stats").json()
    assert after["metrics"]["totalRequests"] == 0


def test_proxy_errors_count_as_server_errors(live_on_backend: Live) -> None:
    live = live_on_backend
    workload_id = live.create_workload([free_port()])
    assert live.admin.get(live.invoke_url(workload_id, "/")).status_code == 502
    metrics = live.admin.get(f"/api/v2/workloads/{workload_id}/stats").json()["metrics"]
    assert metrics["totalRequests"] == 1 and metrics["serverErrors"] == 1


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_stats_query_validation(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    base = f"/api/v2/workloads/{workload_id}/stats"
    backwards = live.admin.get(base, params={"startTime": _ago(hours=1), "endTime": _ago(hours=2)})
    assert (backwards.status_code, backwards.json()["code"]) == (400, "invalid_time_range")
    assert live.admin.get(base, params={"responseTimeQuantile": 2}).status_code == 422
    assert live.admin.get(f"{base}/nonsense").status_code == 422
    assert live.admin.get(f"{base}/responseTime", params={"resolution": "PT2M"}).status_code == 422
    too_fine = live.admin.get(
        f"{base}/responseTime", params={"resolution": "PT1M", "startTime": _ago(days=30)}
    )
    assert (too_fine.status_code, too_fine.json()["code"]) == (400, "too_many_buckets")
    other = live.admin.get(base, params={"protonId": "0123456789abcdef01234567"})
    assert (other.status_code, other.json()["code"]) == (404, "proton_not_found")
    missing = live.admin.get("/api/v2/workloads/0123456789abcdef01234567/stats")
    assert missing.json()["code"] == "workload_not_found"
    # The old path serves the same handlers.
    assert live.admin.get(f"/api/v2/console/workloads/{workload_id}/stats").status_code == 200


def test_metrics_need_an_admin(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    live.admin.get(live.invoke_url(workload_id, "/echo"))
    assert httpx.get(f"{live.url}/metrics").status_code == 401
    user = live.admin.post("/api/v2/users", json={"username": "metrics-reader"}).json()
    token = live.admin.post("/api/v2/apiTokens", json={"name": "t", "userId": user["id"]})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    assert httpx.get(f"{live.url}/metrics", headers=headers).status_code == 403
    response = httpx.get(f"{live.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert f'dockyard_proxy_requests_total{{workload_id="{workload_id}",code="2xx"}} 1' in text
    assert f'dockyard_proxy_request_duration_seconds_count{{workload_id="{workload_id}"}} 1' in text
    assert 'dockyard_workloads{status="running"}' in text
    assert "dockyard_replicas" in text


def test_metrics_can_be_public(live: Live) -> None:
    live.app.state.settings.metrics_public = True
    try:
        assert httpx.get(f"{live.url}/metrics").status_code == 200
    finally:
        live.app.state.settings.metrics_public = False


def test_extreme_windows_are_answered(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    base = f"/api/v2/workloads/{workload_id}/stats"
    for params in (
        {"endTime": "0001-01-01T00:00:00Z"},
        {"startTime": "0001-01-01T00:00:00Z", "endTime": "0001-01-02T00:00:00Z"},
        {"startTime": "9999-12-30T00:00:00Z", "endTime": "9999-12-31T00:00:00Z"},
    ):
        assert live.admin.get(base, params=params).status_code == 400
        assert live.admin.get(f"{base}/totalRequests", params=params).status_code == 400
    wide = {"startTime": "0001-01-01T00:00:00Z", "endTime": "9999-12-31T00:00:00Z"}
    assert live.admin.get(base, params=wide).status_code == 200
    series = live.admin.get(f"{base}/totalRequests", params={**wide, "resolution": "P1M"})
    assert series.status_code == 400  # too many buckets, not a crash
    assert live.admin.delete(base, params=wide).status_code == 204
