"""Fixtures: a real server app on SQLite and, when DOCKYARD_TEST_DATABASE_URL is set, PostgreSQL.

Every API and storage test runs once per database backend (`backend` parameter). Each backend
gets one database per test worker, migrated once; each test starts from empty tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dockyard.server.app import create_app
from dockyard.server.db.engine import make_engine
from dockyard.server.db.migrate import upgrade
from dockyard.server.models import metadata
from dockyard.server.settings import Settings

ADMIN_TOKEN = "dy_test_admin_token_" + "x" * 24
PG_URL = os.environ.get("DOCKYARD_TEST_DATABASE_URL")
REQUIRE_ALL = os.environ.get("DOCKYARD_TEST_REQUIRE_ALL") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip on a machine without the service; fail in CI, where everything must run."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"DOCKYARD_TEST_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'dockyard.db'}"


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """A fresh, empty database on the server of DOCKYARD_TEST_DATABASE_URL, dropped after."""
    assert PG_URL is not None
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    with new_postgres_database(f"dockyard_test_{_worker()}") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
        require_service(url is not None, "PostgreSQL tests need DOCKYARD_TEST_DATABASE_URL")
    _reset(url)
    return url


_migrated: set[str] = set()


def _reset(url: str) -> None:
    """Migrate once per database, then empty every table before each test."""
    engine = make_engine(url)
    try:
        if url not in _migrated:
            upgrade(engine)
            _migrated.add(url)
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        runtime="fake",
    )


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    # Reconcile passes run only when a test asks (app.state.reconciler.run_pending()).
    application = create_app(settings, run_reconciler=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An API client signed in as the bootstrap admin."""
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client
