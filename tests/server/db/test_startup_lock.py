"""Several servers starting at once on one fresh PostgreSQL database (the replicas of a
Kubernetes Deployment) migrate and bootstrap it one at a time, and all of them start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from dockyard.server.db.migrate import MIGRATIONS, startup_lock
from dockyard.server.models import metadata
from tests.conftest import PG_URL, new_postgres_database, require_service

SERVERS = 4

# What `create_app` does with the database before serving, in a process of its own. It says
# "ready" once its imports are done, then waits for the word to go, so all start together.
_START = """
import sys
from pathlib import Path
from dockyard.server.app import prepare_database
from dockyard.server.db.session import Database
from dockyard.server.settings import Settings

url, home = sys.argv[1], Path(sys.argv[2])
db = Database.connect(url, worker_threads=2)
print("ready", flush=True)
sys.stdin.readline()
result = prepare_database(db, Settings(home=home, database_url=url), audit_key=b"k" * 32)
print("token" if result.new_token else "no-token", flush=True)
db.dispose()
"""


@pytest.fixture
def fresh_database() -> Iterator[str]:
    require_service(PG_URL is not None, "the start-up lock needs DOCKYARD_TEST_DATABASE_URL")
    with new_postgres_database("dockyard_start") as url:
        yield url


def _start_server(url: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _START, url, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _head() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_servers_starting_together_migrate_once_and_all_start(
    fresh_database: str, tmp_path: Path
) -> None:
    servers = [_start_server(fresh_database, tmp_path / f"home-{i}") for i in range(SERVERS)]
    try:
        for server in servers:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready", server.stderr
        for server in servers:  # as close together as one loop can send them
            assert server.stdin is not None
            server.stdin.write("go\n")
            server.stdin.flush()
        outcomes = [server.communicate(timeout=120) for server in servers]
    finally:
        for server in servers:
            server.kill()
            server.wait()

    for server, (_out, err) in zip(servers, outcomes, strict=True):
        assert server.returncode == 0, err
    # Exactly one server found the database new and generated the admin token.
    assert sorted(out.strip() for out, _ in outcomes) == ["no-token"] * (SERVERS - 1) + ["token"]

    engine = create_engine(fresh_database)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            admins = connection.execute(
                text("SELECT count(*) FROM users WHERE username = 'admin'")
            ).scalar_one()
            tokens = connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one()
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert [row.version_num for row in versions] == [_head()]
    assert set(metadata.tables) <= tables
    assert (admins, tokens) == (1, 1)


def test_a_server_waits_for_the_one_holding_the_lock(fresh_database: str, tmp_path: Path) -> None:
    engine = create_engine(fresh_database)
    server = None
    try:
        with startup_lock(engine):
            server = _start_server(fresh_database, tmp_path / "home")
            assert server.stdout is not None and server.stdin is not None
            assert server.stdout.readline().strip() == "ready", server.stderr
            server.stdin.write("go\n")
            server.stdin.flush()
            _wait_for_advisory_waiter(engine)
            # Blocked on the lock: it has not touched the schema.
            assert "alembic_version" not in inspect(engine).get_table_names()
        out, err = server.communicate(timeout=120)
        assert server.returncode == 0, err
        assert out.strip() == "token"
        assert "alembic_version" in inspect(engine).get_table_names()
    finally:
        if server is not None:
            server.kill()
            server.wait()
        engine.dispose()


def _wait_for_advisory_waiter(engine: Engine) -> None:
    """Until another session of this database waits on an advisory lock (pg_locks says so)."""
    deadline = time.monotonic() + 60
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
    )
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query).scalar_one():
                return
        time.sleep(0.05)
    pytest.fail("the starting server never waited on the start-up lock")
