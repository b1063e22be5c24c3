"""A real Dockyard server (uvicorn, SQLite, process runtime) and headless Chromium driving it.

The browser is Debian's `chromium`, driven by Playwright; no browser is downloaded. Without
/usr/bin/chromium the tests skip (and fail in CI, where .ci/run installs it).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "dy_ui_test_admin_token_" + "u" * 24
# Set to a folder (docs/screenshots to refresh the README's pictures) to keep a screenshot of
# every page the workflow visits.
SCREENSHOTS = os.environ.get("DOCKYARD_SCREENSHOTS_DIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    token: str
    app: Any

    def sign_in_path(self, next_path: str = "/registry/services") -> str:
        """The one-time link `dockyard serve` prints, with a fresh code."""
        from dockyard.server.sessions.service import issue_sign_in_code

        with self.app.state.db.unit_of_work() as session:
            code = issue_sign_in_code(session, self.token)
        return f"/login?code={code}&next={next_path}"

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_service(os.path.exists(CHROMIUM), f"the browser tests need Chromium at {CHROMIUM}")
    import uvicorn

    from dockyard.server.app import create_app
    from dockyard.server.settings import Settings

    settings = Settings(
        home=tmp_path_factory.mktemp("ui-home"),
        admin_token=TOKEN,
        runtime="process",
        reconcile_sweep_seconds=0.5,
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the Dockyard server did not start")
        time.sleep(0.05)
    live = LiveServer(url=f"http://127.0.0.1:{port}", token=TOKEN, app=app)
    try:
        yield live
    finally:
        _stop_every_workload(live)
        server.should_exit = True
        thread.join(timeout=20)


def _stop_every_workload(live: LiveServer) -> None:
    """The process runtime's children outlive the server by design: stop them before leaving."""
    with live.api() as api:
        for deployment in api.get("/console/deployments").json().get("data", []):
            api.delete(f"/console/deployments/{deployment['id']}")
        workloads = api.get("/workloads").json().get("data", [])
        for workload in workloads:
            if workload["status"] not in ("stopped", "terminated"):
                api.post(f"/workloads/{workload['id']}/stop")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = [w["status"] for w in api.get("/workloads").json().get("data", [])]
            if all(status in ("stopped", "terminated", "errored") for status in statuses):
                break
            time.sleep(0.3)
        for workload in workloads:
            api.delete(f"/workloads/{workload['id']}")


@pytest.fixture(scope="module")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # the confirm() before deletes and locks
    try:
        yield tab
    finally:
        context.close()


def shoot(page: Any, name: str) -> None:
    """Keep a picture of the page when DOCKYARD_SCREENSHOTS_DIR is set."""
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(web: TestClient, token: str, *, next_path: str = "/") -> Any:
    """What a person does: open the form, paste the token, submit."""
    form = web.get("/login", params={"next": next_path})
    return web.post("/login", data={"token": token, "csrf": csrf_of(form.text), "next": next_path})
