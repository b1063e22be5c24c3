"""The seed tutorial's invoke step, end to end: a workload on real processes, reached by URL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.proxy.conftest import Live, proxy_settings, serve
from tests.server.proxy.upstreams import free_port


@pytest.fixture
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("real")
    settings = Settings(
        home=home / "home",
        database_url=f"sqlite:///{home / 'dockyard.db'}",
        admin_token=ADMIN_TOKEN,
        runtime="process",
    )
    app = create_app(proxy_settings(settings))  # with its reconciler
    server, thread, url = serve(app)
    handle = Live(app, url)
    try:
        yield handle
    finally:
        handle.admin.close()
        server.should_exit = True
        thread.join(15)


def test_invoke_a_workload_running_as_a_process(real: Live) -> None:
    port = free_port()
    spec = {
        "containerGroups": [
            {
                "name": "default",
                "containers": [
                    {
                        "name": "primary",
                        "primary": True,
                        "imageUri": "docker.io/library/python:3.12-slim",
                        "port": port,
                        "entrypoint": ["python3", "-m", "http.server", str(port)],
                    }
                ],
            }
        ]
    }
    created = real.admin.post(
        "/api/v2/workloads", json={"name": "hello", "artifact": {"name": "hello", "spec": spec}}
    )
    assert created.status_code == 201, created.text
    workload = created.json()
    try:
        # The endpoint the API hands out works as soon as the replica is ready; the request
        # waits for that instead of failing while the workload starts.
        response = httpx.get(
            workload["endpoint"] + "?q=1",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Scale-Up-Timeout": "30"},
            timeout=40,
        )
        assert response.status_code == 200, response.text
        assert "Directory listing for /?q=1" in response.text
    finally:
        real.admin.post(f"/api/v2/workloads/{workload['id']}/stop")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = real.admin.get(f"/api/v2/workloads/{workload['id']}").json()["status"]
            if status == "stopped":
                break
            time.sleep(0.2)
    stopped = httpx.get(workload["endpoint"], headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert (stopped.status_code, stopped.json()["code"]) == (503, "no_ready_replica")
