"""Sign-in without tokens in URLs: one-time codes, server sessions, sign-out, the access log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.server.kit.clock import utcnow
from dockyard.server.runtimes.fake import FakeClock
from dockyard.server.sessions.service import issue_sign_in_code
from dockyard.server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.ui.conftest import csrf_of, free_port, sign_in

SESSION_COOKIE = "dockyard_session"


def new_code(app: FastAPI, token: str = ADMIN_TOKEN) -> str:
    """What `dockyard serve` does at start."""
    with app.state.db.unit_of_work() as session:
        code = issue_sign_in_code(session, token)
    assert code is not None
    return code


def signed_in(web: TestClient) -> bool:
    return web.get("/registry/services", follow_redirects=False).status_code == 200


def test_the_sign_in_code_signs_in_once(app: FastAPI) -> None:
    code = new_code(app)
    assert ADMIN_TOKEN not in code
    with TestClient(app, follow_redirects=False) as web:
        answer = web.get("/login", params={"code": code, "next": "/console/workloads"})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console/workloads"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert signed_in(web)
        assert web.get("/ui/api/workloads").status_code == 200  # the bridge, as that user
    with TestClient(app, follow_redirects=False) as other:
        again = other.get("/login", params={"code": code})
        assert again.status_code == 401 and "already used" in again.text
        assert SESSION_COOKIE not in other.cookies
        assert not signed_in(other)


def test_the_sign_in_code_expires_after_ten_minutes(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(utcnow())
    monkeypatch.setattr("dockyard.server.sessions.service.utcnow", clock)
    fresh, stale = new_code(app), new_code(app)
    clock.advance(599)
    with TestClient(app, follow_redirects=False) as web:
        assert web.get("/login", params={"code": fresh}).status_code == 303
        assert signed_in(web)
    clock.advance(1)
    with TestClient(app, follow_redirects=False) as web:
        answer = web.get("/login", params={"code": stale})
        assert answer.status_code == 401 and "expired" in answer.text
        assert not signed_in(web)


def test_unknown_and_oversized_codes_are_refused(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as web:
        assert web.get("/login", params={"code": "nope"}).status_code == 401
        assert web.get("/login", params={"code": "x" * 5000}).status_code == 401
        assert not signed_in(web)


@pytest.fixture
def second_app(settings: Settings, tmp_path: Path) -> Iterator[FastAPI]:
    """Another server on the same database, trusting no cached answer."""
    other = settings.model_copy(update={"home": tmp_path / "second", "token_cache_seconds": 0})
    application = create_app(other, run_reconciler=False)
    yield application
    application.state.db.dispose()


def test_codes_and_sessions_hold_on_every_server_of_the_database(
    app: FastAPI, second_app: FastAPI
) -> None:
    code = new_code(app)  # printed by the first server…
    with TestClient(second_app, follow_redirects=False) as web:
        assert web.get("/login", params={"code": code}).status_code == 303  # …used on the second
        cookie = web.cookies[SESSION_COOKIE]
    with TestClient(app, follow_redirects=False) as first:
        assert first.get("/login", params={"code": code}).status_code == 401  # spent everywhere
        first.cookies.set(SESSION_COOKIE, cookie)
        assert signed_in(first)  # the session, too, is known to both
        page = first.get("/registry/services")
        assert first.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with TestClient(second_app, follow_redirects=False) as replay:
        replay.cookies.set(SESSION_COOKIE, cookie)
        assert not signed_in(replay)  # signed out on one server: ended on the other


def test_a_token_in_the_url_does_not_sign_in(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as web:
        answer = web.get("/login", params={"token": ADMIN_TOKEN, "next": "/console/workloads"})
        assert answer.status_code == 200
        assert "no longer carry a token" in answer.text
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert SESSION_COOKIE not in web.cookies
        assert not signed_in(web)


def test_a_token_in_the_url_does_not_switch_a_signed_in_browser(app: FastAPI) -> None:
    """Login CSRF: another site linking to /login?token=<its own token> changes nothing."""
    with TestClient(app) as admin:
        mallory = admin.post(
            "/api/v2/users", json={"username": "mallory"}, headers=_bearer(ADMIN_TOKEN)
        ).json()
        token = admin.post(
            "/api/v2/apiTokens",
            json={"name": "x", "userId": mallory["id"]},
            headers=_bearer(ADMIN_TOKEN),
        ).json()["token"]
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, ADMIN_TOKEN)
        web.get("/login", params={"token": token})
        page = web.get("/registry/services")
        assert page.status_code == 200
        assert 'class="username" title="Signed in">admin' in page.text


def test_a_sign_in_post_without_the_csrf_token_is_refused(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as web:
        answer = web.post("/login", data={"token": ADMIN_TOKEN, "next": "/"})
        assert answer.status_code == 400 and "expired" in answer.text
        assert SESSION_COOKIE not in web.cookies
        # Another site's form: a CSRF value of its own, without this browser's cookie.
        forged = web.post(
            "/login", data={"token": ADMIN_TOKEN, "csrf": "chosen-by-them", "next": "/"}
        )
        assert forged.status_code == 400
        assert not signed_in(web)


def test_signing_out_ends_the_session_for_a_replayed_cookie(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, ADMIN_TOKEN)
        cookie = web.cookies[SESSION_COOKIE]
        assert signed_in(web)
        answer = web.post("/logout")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    with TestClient(app, follow_redirects=False) as replay:
        replay.cookies.set(SESSION_COOKIE, cookie)
        page = replay.get("/registry/services")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert replay.get("/ui/api/workloads").status_code == 401


def test_the_session_holds_no_token_and_nothing_forged_signs_in(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as web:
        web.cookies.set(SESSION_COOKIE, ADMIN_TOKEN)  # a token is not a session
        assert not signed_in(web)
        web.cookies.set(SESSION_COOKIE, "x" * 5000)
        assert not signed_in(web)


# --- the access log --------------------------------------------------------------------------


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def served(app: FastAPI) -> Iterator[tuple[str, Captured]]:
    """The app behind a real uvicorn with its access log on, and what that log receives."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    captured = Captured()
    logger = logging.getLogger("uvicorn.access")
    logger.addHandler(captured)
    try:
        yield f"http://127.0.0.1:{port}", captured
    finally:
        logger.removeHandler(captured)
        server.should_exit = True
        thread.join(timeout=20)


def test_the_access_log_keeps_no_query_string_of_login(
    app: FastAPI, served: tuple[str, Captured]
) -> None:
    url, captured = served
    code = new_code(app)
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as web:
        assert web.get("/login", params={"code": code, "next": "/console"}).status_code == 303
        web.get("/login", params={"token": ADMIN_TOKEN})
        web.get("/login/", params={"token": ADMIN_TOKEN})
        web.get("/%6Cogin", params={"token": ADMIN_TOKEN})  # the same page, spelled otherwise
        web.get("/registry/services", params={"token": ADMIN_TOKEN})
    deadline = time.monotonic() + 5
    while len(captured.lines) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = "\n".join(captured.lines)
    assert len(captured.lines) >= 5, logged
    assert '"GET /login HTTP/1.1" 303' in logged
    assert code not in logged and ADMIN_TOKEN not in logged
    assert "?" not in logged.replace("/registry/services?token=dy_…", "")
    assert "token=dy_…" in logged  # elsewhere the query stays, a token in it masked


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_session_ends_after_seven_days(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(utcnow())
    monkeypatch.setattr("dockyard.server.sessions.verifier.utcnow", clock)
    with TestClient(app, follow_redirects=False) as web:
        sign_in(web, ADMIN_TOKEN)
        clock.advance(7 * 24 * 3600 - 60)
        app.state.session_verifier.forget()
        assert signed_in(web)
        clock.advance(120)  # the session was opened a moment after the clock was read
        app.state.session_verifier.forget()
        assert not signed_in(web)
