"""The links the API hands back follow X-Forwarded-* only from a trusted proxy."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_artifact

SPOOFED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


def _next_link(app, peer: str) -> str:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(app, headers=headers, client=(peer, 40000)) as client:
        for name in ("one", "two"):
            create_artifact(client, name)
        body = client.get("/api/v2/artifacts", params={"limit": 1}, headers=SPOOFED).json()
    return body["next"]


def test_a_clients_forwarding_headers_do_not_choose_the_links(settings: Settings) -> None:
    app = create_app(settings, run_reconciler=False)
    try:
        assert _next_link(app, "203.0.113.9").startswith("http://testserver/")
    finally:
        app.state.db.dispose()


def test_a_trusted_proxys_forwarding_headers_do(settings: Settings) -> None:
    trusted = settings.model_copy(update={"trusted_proxies": ["203.0.113.0/24"]})
    app = create_app(trusted, run_reconciler=False)
    try:
        assert _next_link(app, "203.0.113.9").startswith("https://evil.example/")
    finally:
        app.state.db.dispose()
