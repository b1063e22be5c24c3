"""A real Dockyard server (uvicorn in a thread) in front of real upstream sockets.

The TestClient buffers bodies and has no sockets, so streaming, timeouts and WebSockets are
tested through uvicorn itself. Replicas are written straight into the database (the reconciler
is not running): each test decides which ports are ready, and the routing table picks it up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import delete, select, update

from dockyard.server.app import create_app
from dockyard.server.http_server import uvicorn_options
from dockyard.server.settings import Settings
from dockyard.server.workloads.models import Proton, Replica, Workload
from tests.conftest import ADMIN_TOKEN
from tests.factories import service_spec
from tests.server.proxy.upstreams import LoopThread, Upstream, free_port


class Live:
    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url
        self.admin = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    @property
    def proxy(self) -> Any:
        return self.app.state.proxy

    def invoke_url(self, workload_id: str, path: str = "/") -> str:
        return f"{self.url}/api/v2/endpoints/workloads/{workload_id}{path}"

    def create_workload(self, ports: list[int], status: str = "running") -> str:
        body = {"name": "svc", "artifact": {"name": "svc", "spec": service_spec()}}
        response = self.admin.post("/api/v2/workloads", json=body)
        assert response.status_code == 201, response.text
        workload_id = response.json()["id"]
        self.set_replicas(workload_id, ports, status=status)
        return workload_id

    def set_replicas(
        self,
        workload_id: str,
        ports: list[int],
        *,
        status: str = "running",
        ready: bool = True,
        sync: bool = True,
    ) -> None:
        """Write the workload's replicas; `sync=False`: as another server would, unannounced."""
        with self.app.state.db.unit_of_work() as session:
            proton_id = session.scalar(
                select(Proton.id).where(Proton.workload_id == workload_id, Proton.role == "active")
            )
            session.execute(delete(Replica).where(Replica.proton_id == proton_id))
            for index, port in enumerate(ports):
                session.add(
                    Replica(
                        proton_id=proton_id,
                        group_name="default",
                        index=index,
                        phase="running",
                        host="127.0.0.1",
                        port=port,
                        ready=ready,
                    )
                )
            desired = "stopped" if status in ("stopped", "stopping") else "running"
            session.execute(
                update(Workload)
                .where(Workload.id == workload_id)
                .values(status=status, desired_state=desired)
            )
        if sync:
            self.sync_routes()

    def sync_routes(self) -> None:
        """Poke the table (the reconciler's hook) and wait until it has been re-read."""
        table = self.app.state.routes
        before = table.version
        table.poke()
        deadline = time.monotonic() + 5
        while table.version < before + 2 and time.monotonic() < deadline:
            time.sleep(0.01)


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **uvicorn_options()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def proxy_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "proxy_timeout_seconds": 1.0,
            "proxy_client_idle_seconds": 0.5,
            "proxy_route_refresh_seconds": 0.2,
            "stats_flush_seconds": 0.2,
        }
    )


@contextmanager
def running(settings: Settings) -> Iterator[Live]:
    app = create_app(proxy_settings(settings), run_reconciler=False)
    server, thread, url = serve(app)
    handle = Live(app, url)
    try:
        yield handle
    finally:
        handle.admin.close()
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server per test module, on its own SQLite file: tests isolate by workload id.

    The proxy's behaviour does not depend on the database; the statistics tests, which do,
    run a server per backend (`live_on_backend`).
    """
    home = tmp_path_factory.mktemp("live")
    settings = Settings(
        home=home / "home",
        database_url=f"sqlite:///{home / 'dockyard.db'}",
        admin_token=ADMIN_TOKEN,
        runtime="fake",
    )
    with running(settings) as handle:
        yield handle


@pytest.fixture
def live_on_backend(settings: Settings) -> Iterator[Live]:
    with running(settings) as handle:
        yield handle


@pytest.fixture(scope="session")
def loops() -> Iterator[LoopThread]:
    loop_thread = LoopThread()
    yield loop_thread
    loop_thread.close()


@pytest.fixture
def upstream(loops: LoopThread) -> Iterator[Upstream]:
    server = Upstream(loops, "a")
    yield server
    server.stop()


@pytest.fixture
def upstream_b(loops: LoopThread) -> Iterator[Upstream]:
    server = Upstream(loops, "b")
    yield server
    server.stop()
