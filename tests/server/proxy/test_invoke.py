"""Invoke semantics: forwarding, headers, auth and permissions, balancing."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.server.proxy.conftest import Live
from tests.server.proxy.upstreams import Upstream


def test_forwards_method_path_query_and_body(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    url = live.invoke_url(workload_id, "/echo/a%20b/c/?x=1&y=%2F")
    response = live.admin.put(url, content=b"payload", headers={"X-Custom": "yes"})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/echo/a%20b/c/?x=1&y=%2F"  # prefix stripped, encoding and slash kept
    assert seen["body"] == "payload"
    headers = seen["headers"]
    assert headers["x-custom"] == "yes"
    assert "authorization" not in headers  # consumed by the proxy
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == live.url.removeprefix("http://")
    assert headers["x-forwarded-prefix"] == f"/api/v2/endpoints/workloads/{workload_id}"


def test_forwarding_headers_are_dockyards_own(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    sent = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Prefix": "/spoofed",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "must not pass",
        "X-Scale-Up-Timeout": "1",
    }
    seen = live.admin.post(live.invoke_url(workload_id, "/echo"), headers=sent).json()
    headers = seen["headers"]
    # The test client is on 127.0.0.1, a proxy uvicorn trusts: its list is taken as it is.
    assert headers["x-forwarded-for"] == "203.0.113.7"
    assert headers["x-forwarded-prefix"] == f"/api/v2/endpoints/workloads/{workload_id}"
    assert "x-hop" not in headers and "x-scale-up-timeout" not in headers
    assert seen["method"] == "POST" and seen["body"] == ""
    head = live.admin.head(live.invoke_url(workload_id, "/echo"))
    assert head.status_code == 200 and head.content == b""


def test_upstream_status_and_headers_come_back(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    response = live.admin.get(live.invoke_url(workload_id, "/echo?status=418"))
    assert response.status_code == 418
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["server"] == "a"


def test_auth_is_required_and_checked(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    url = live.invoke_url(workload_id, "/echo")
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    wrong = httpx.get(url, headers={"Authorization": "Bearer dy_nope"})
    assert wrong.status_code == 401


def _user(live: Live, name: str) -> tuple[str, str]:
    user = live.admin.post("/api/v2/users", json={"username": name}).json()
    token = live.admin.post("/api/v2/apiTokens", json={"name": "t", "userId": user["id"]})
    return user["id"], token.json()["token"]


def _share(live: Live, workload_id: str, user_id: str, role: str) -> None:
    response = live.admin.patch(
        f"/api/v2/workloads/{workload_id}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "role": role, "id": user_id}],
        },
    )
    assert response.status_code == 204, response.text
    live.sync_routes()


def test_invoke_rights_follow_sharing(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    user_id, token = _user(live, "carol")
    url = live.invoke_url(workload_id, "/echo")
    headers = {"Authorization": f"Bearer {token}"}
    unseen = httpx.get(url, headers=headers)
    assert (unseen.status_code, unseen.json()["code"]) == (404, "workload_not_found")
    _share(live, workload_id, user_id, "READ_ONLY")
    seen = httpx.get(url, headers=headers)
    assert (seen.status_code, seen.json()["code"]) == (403, "forbidden")
    _share(live, workload_id, user_id, "CONSUMER")
    assert httpx.get(url, headers=headers).status_code == 200
    _share(live, workload_id, user_id, "NO_ROLE")
    assert httpx.get(url, headers=headers).status_code == 404


def test_revoked_token_stops_within_a_second(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    user_id, token = _user(live, "dave")
    _share(live, workload_id, user_id, "CONSUMER")
    url = live.invoke_url(workload_id, "/echo")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=headers).status_code == 200
    tokens = live.admin.get("/api/v2/apiTokens", params={"userId": user_id}).json()["data"]
    for entry in tokens:
        live.admin.delete(f"/api/v2/apiTokens/{entry['id']}")
    live.app.state.token_verifier.forget()  # what the token routes do; the cache TTL bounds it
    assert httpx.get(url, headers=headers).status_code == 401


def test_unknown_and_malformed_workloads_are_404(live: Live) -> None:
    for workload_id in ("0123456789abcdef01234567", "not-an-id"):
        response = live.admin.get(live.invoke_url(workload_id, "/x"))
        assert (response.status_code, response.json()["code"]) == (404, "workload_not_found")


def test_new_workload_is_routable_before_the_next_refresh(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    live.app.state.routes.routes.pop(workload_id)  # as if created a moment ago by another server
    assert live.admin.get(live.invoke_url(workload_id, "/echo")).status_code == 200


def test_a_replica_made_ready_elsewhere_is_used_before_the_next_refresh(
    live: Live, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload_id = live.create_workload([upstream.port])
    live.set_replicas(workload_id, [], status="starting")
    table = live.app.state.routes
    monkeypatch.setattr(table, "_interval", 60.0)  # no periodic refresh during the test
    live.sync_routes()
    # Another server's reconciler marks the replica ready; this server is not told.
    live.set_replicas(workload_id, [upstream.port], status="running", sync=False)
    time.sleep(0.15)
    assert live.admin.get(live.invoke_url(workload_id, "/echo")).status_code == 200


def test_oversized_headers_are_refused(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    headers = {f"X-Big-{i}": "v" * 1000 for i in range(40)}
    response = live.admin.get(live.invoke_url(workload_id, "/echo"), headers=headers)
    assert (response.status_code, response.json()["code"]) == (431, "headers_too_large")


def test_balancing_spreads_and_prefers_idle_replicas(
    live: Live, upstream: Upstream, upstream_b: Upstream
) -> None:
    workload_id = live.create_workload([upstream.port, upstream_b.port])
    servers = [
        live.admin.get(live.invoke_url(workload_id, "/echo")).json()["server"] for _ in range(10)
    ]
    assert servers.count("a") == 5 and servers.count("b") == 5

    # While one replica holds a slow request, the next ones all go to the other.
    slow: list[str] = []
    holder = threading.Thread(
        target=lambda: slow.append(
            live.admin.get(live.invoke_url(workload_id, "/slow?delay=0.6")).json()["server"]
        )
    )
    holder.start()
    route = live.proxy.table.routes[workload_id]
    while sum(b.outstanding for b in route.backends) == 0:
        pass
    quick = {
        live.admin.get(live.invoke_url(workload_id, "/echo")).json()["server"] for _ in range(6)
    }
    holder.join()
    assert len(slow) == 1 and len(quick) == 1 and quick != set(slow)


def test_deployments_are_invoked_through_their_own_endpoint(live: Live, upstream: Upstream) -> None:
    workload_id = live.create_workload([upstream.port])
    workload = live.admin.get(f"/api/v2/workloads/{workload_id}").json()
    locked = live.admin.patch(
        f"/api/v2/artifacts/{workload['artifactId']}", json={"status": "locked"}
    )
    assert locked.status_code == 200, locked.text
    created = live.admin.post("/api/v2/console/deployments", json={"workloadId": workload_id})
    assert created.status_code == 201, created.text
    deployment = created.json()
    response = live.admin.get(deployment["endpoint"] + "echo/x?y=1")
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["path"] == "/echo/x?y=1"
    prefix = f"/api/v2/endpoints/deployments/{deployment['id']}"
    assert seen["headers"]["x-forwarded-prefix"] == prefix
    # Deployment grants decide: a consumer of the deployment invokes it without seeing the
    # workload behind it.
    user_id, token = _user(live, "erin")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(deployment["endpoint"], headers=headers).status_code == 404
    shared = live.admin.patch(
        f"/api/v2/console/deployments/{deployment['id']}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "role": "CONSUMER", "id": user_id}],
        },
    )
    assert shared.status_code == 204, shared.text
    live.sync_routes()
    assert httpx.get(deployment["endpoint"] + "echo", headers=headers).status_code == 200
    missing = live.admin.get(f"{live.url}/api/v2/endpoints/deployments/0123456789abcdef01234567/")
    assert (missing.status_code, missing.json()["code"]) == (404, "deployment_not_found")
    other = live.admin.get(f"{live.url}/api/v2/endpoints/elsewhere/x/")
    assert other.status_code == 404


def test_a_deployment_stops_serving_when_its_owners_lose_the_workload(
    live: Live, upstream: Upstream
) -> None:
    workload_id = live.create_workload([upstream.port])
    workload = live.admin.get(f"/api/v2/workloads/{workload_id}").json()
    live.admin.patch(f"/api/v2/artifacts/{workload['artifactId']}", json={"status": "locked"})
    editor_id, editor_token = _user(live, "frank")
    consumer_id, consumer_token = _user(live, "grace")
    _share(live, workload_id, editor_id, "EDITOR")
    editor = {"Authorization": f"Bearer {editor_token}"}
    created = httpx.post(
        f"{live.url}/api/v2/console/deployments", json={"workloadId": workload_id}, headers=editor
    )
    assert created.status_code == 201, created.text
    deployment = created.json()
    shared = httpx.patch(
        f"{live.url}/api/v2/console/deployments/{deployment['id']}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "role": "CONSUMER", "id": consumer_id}],
        },
        headers=editor,
    )
    assert shared.status_code == 204, shared.text
    live.sync_routes()
    consumer = {"Authorization": f"Bearer {consumer_token}"}
    assert httpx.get(deployment["endpoint"] + "echo", headers=consumer).status_code == 200

    # Unshared from the workload, the editor's deployment no longer opens it to anyone.
    _share(live, workload_id, editor_id, "READ_ONLY")
    for headers in (editor, consumer, live.admin.headers):
        refused = httpx.get(deployment["endpoint"] + "echo", headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "workload_access_revoked")
    assert httpx.get(live.invoke_url(workload_id, "/echo"), headers=editor).status_code == 403

    # An owner of the workload (here the admin) takes the deployment over: it serves again.
    admin_id = live.admin.get("/api/v2/users/me").json()["id"]
    taken = live.admin.patch(
        f"/api/v2/console/deployments/{deployment['id']}/sharedRoles",
        json={
            "operation": "updateRoles",
            "roles": [{"shareRecipientType": "user", "role": "OWNER", "id": admin_id}],
        },
    )
    assert taken.status_code == 204, taken.text
    live.sync_routes()
    assert httpx.get(deployment["endpoint"] + "echo", headers=consumer).status_code == 200
