"""Which SQL a benchmarked request runs, how long each statement takes, and its plan.

    python -m bench.explain --backend postgresql --size 100000

Seeds a database as bench/api.py does, serves the same requests in-process, times every
statement the server sends, and prints the slowest ones with their query plans (EXPLAIN
ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from bench.api import database, postgres_admin_url
from bench.seed import NEEDLE, add_token, create_user, seed, spec
from dockyard.server.app import create_app
from dockyard.server.db.engine import make_engine
from dockyard.server.db.migrate import upgrade
from dockyard.server.settings import Settings

Statement = tuple[str, Any]


def _record(engine: Engine, log: list[tuple[float, str, Any]]) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["dockyard_bench_start"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        elapsed = (time.perf_counter() - conn.info.pop("dockyard_bench_start")) * 1000
        log.append((elapsed, statement, parameters))


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).fetchall()
    return "\n".join("    " + " ".join(str(cell) for cell in row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=4, help="statements to explain per request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dockyard-explain-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        admin_cm = postgres_admin_url(workdir) if args.backend == "postgresql" else None
        pg_admin = admin_cm.__enter__() if admin_cm else None
        try:
            with database(args.backend, args.size, workdir, pg_admin) as url:
                _explain(url, args.size, workdir, args.top)
        finally:
            if admin_cm:
                admin_cm.__exit__(None, None, None)


def _explain(url: str, size: int, workdir: Path, top: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    owner = create_user(engine, "bench-owner")
    token = "dy_bench_" + secrets.token_hex(16)
    add_token(engine, owner, token)
    seeded = seed(engine, size, owner)
    engine.dispose()

    settings = Settings(home=workdir / "home", database_url=url, runtime="process")
    app = create_app(settings)
    log: list[tuple[float, str, Any]] = []
    _record(app.state.db.engine, log)
    requests = {
        "list": lambda c, i: c.get(
            "/api/v2/artifacts", params={"search": NEEDLE, "status": "locked", "limit": 100}
        ),
        "get": lambda c, i: c.get(f"/api/v2/artifacts/{seeded.artifact_ids[i]}"),
        "create": lambda c, i: c.post(
            "/api/v2/artifacts", json={"name": f"explain-{i}", "spec": spec(i)}
        ),
    }
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, call in requests.items():
            for i in range(5):  # warm caches; keep the last request's statements
                log.clear()
                started = time.perf_counter()
                response = call(client, i)
                total = (time.perf_counter() - started) * 1000
            print(
                f"\n=== {name}: HTTP {response.status_code}, {total:.2f} ms in all, "
                f"{len(log)} statements, {sum(t for t, _, _ in log):.2f} ms in SQL"
            )
            for elapsed, statement, parameters in sorted(log, key=lambda e: -e[0])[:top]:
                print(f"  {elapsed:7.2f} ms  {' '.join(statement.split())[:400]}")
                if statement.lstrip().upper().startswith("SELECT"):
                    print(_plan(app.state.db.engine, statement, parameters))
    app.state.db.dispose()


if __name__ == "__main__":
    main()
