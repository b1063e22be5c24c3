"""The clients that sent `Authorization: Bearer` before keep working on the same server.

curl-style HTTP, Dockyard's SDK and its CLI, next to the hosted platform's client: a server
that learnt the `Token` scheme, the version handshake and the bundle catalog must not have
changed anything they rely on.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dockyard.cli.main import app
from dockyard.sdk import Client
from tests.compat.conftest import connect
from tests.sdk.live_server import LiveServer, http_app_spec, unique


@pytest.fixture(autouse=True)
def _no_dockyard_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOCKYARD_URL", "DOCKYARD_TOKEN", "DOCKYARD_PROFILE", "DOCKYARD_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def test_plain_http_with_bearer(server: LiveServer) -> None:
    with server.http() as http:  # Authorization: Bearer <token>, as curl examples send it
        assert http.headers["Authorization"].startswith("Bearer ")
        assert http.get("/version/").json()["versionString"] == "2.49"
        assert http.get("/mlops/compute/bundles").json()["count"] > 0
        created = http.post("/artifacts", json={"name": unique("curl"), "spec": http_app_spec()})
        assert created.status_code == 201
        assert http.delete(f"/artifacts/{created.json()['id']}").status_code == 204
        refused = http.get("/workloads", headers={"Authorization": "Bearer dy_nope"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/json"


def test_the_sdk(server: LiveServer) -> None:
    with Client(server.url, server.token) as dy:
        name = unique("sdk-compat")
        runtime = {"containerGroups": [{"name": "default", "resourceBundles": ["cpu.small"]}]}
        workload = dy.workloads.create(
            name=name, artifact={"name": name, "spec": http_app_spec()}, runtime=runtime
        )
        try:
            group = workload.runtime.container_groups[0]
            assert group.resolved_bundle is not None and group.resolved_bundle.id == "cpu.small"
            assert workload.id in {w.id for w in dy.workloads.list()}
            running = workload.wait("running", timeout=60, interval=0.3)
            assert running.invoke("/", scale_up_timeout=10).status_code == 200
        finally:
            dy.workloads.delete(workload.id)


def test_the_cli(server: LiveServer) -> None:
    env = {"DOCKYARD_URL": server.url, "DOCKYARD_TOKEN": server.token}
    name = unique("cli-compat")
    rest = connect(server)
    artifact = rest.post("artifacts/", json={"name": name, "spec": http_app_spec()}).json()
    result = CliRunner().invoke(app, ["artifact", "list", "--search", name, "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    assert [a["id"] for a in json.loads(result.output)] == [artifact["id"]]
    refused = CliRunner().invoke(
        app, ["artifact", "list"], env={**env, "DOCKYARD_TOKEN": "dy_nope"}
    )
    assert refused.exit_code != 0
    assert "Invalid or revoked API token." in refused.output


def test_the_hosted_client_and_bearer_see_the_same_objects(server: LiveServer) -> None:
    rest = connect(server)
    name = unique("both")
    created = rest.post("artifacts/", json={"name": name, "spec": http_app_spec()}).json()
    with server.http() as http:
        seen = http.get(f"/artifacts/{created['id']}/")
    assert seen.status_code == 200
    assert seen.json() == rest.get(f"artifacts/{created['id']}").json() == created
