"""API latency at 1,000 and at 100,000 artifacts, on SQLite and on PostgreSQL.

    python -m bench.api            # full run: 1k and 100k rows, writes docs/benchmarks.md
    python -m bench.api --quick    # small sizes, fewer requests, prints only
    python -m bench.api --backend sqlite
    python -m bench.api --quick --json out.json   # also writes the measures for bench.compare

Each size gets a fresh database, seeded in bulk (bench/seed.py), then a real `dockyard serve`
subprocess on 127.0.0.1 is measured over HTTP with one keep-alive client, after a warm-up:
the /healthz floor, create, get, and a filtered + searched list that matches the same few
rows at every size. PostgreSQL comes from DOCKYARD_BENCH_DATABASE_URL (a database is created
and dropped beside it) or, when unset, a throwaway cluster from scripts/test-postgres.sh.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.measure import Measurement, Server, measure, measure_side_by_side
from bench.report import Result, measures, render, write_docs, write_measures
from bench.seed import NEEDLE, add_token, create_user, seed, spec
from dockyard.server.db.engine import make_engine
from dockyard.server.db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
FULL = {"sizes": (1_000, 100_000), "requests": 300, "warmup": 30}
QUICK = {"sizes": (200, 5_000), "requests": 60, "warmup": 10}


@contextmanager
def postgres_admin_url(workdir: Path) -> Iterator[str]:
    url = os.environ.get("DOCKYARD_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    cluster = workdir / "pg"
    script = ROOT / "scripts" / "test-postgres.sh"
    started = subprocess.run(
        [str(script), "start", str(cluster)], check=True, capture_output=True, text=True
    )
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(script), "stop", str(cluster)], check=False, capture_output=True)


@contextmanager
def database(backend: str, size: int, workdir: Path, pg_admin: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{size}.db'}"
        return
    assert pg_admin is not None
    name = f"dockyard_bench_{size}_{secrets.token_hex(3)}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_size(backend: str, size: int, url: str, workdir: Path, plan: dict) -> Result:
    engine = make_engine(url)
    try:
        upgrade(engine)
        owner = create_user(engine, "bench-owner")
        token = "dy_bench_" + secrets.token_hex(16)
        add_token(engine, owner, token)
        started = datetime.now(UTC)
        seeded = seed(engine, size, owner)
        seconds = (datetime.now(UTC) - started).total_seconds()
        print(f"  seeded {size:,} artifacts in {seconds:.1f} s", flush=True)
    finally:
        engine.dispose()

    rng = random.Random(size)
    home = workdir / f"home-{backend}-{size}"
    with Server(url, home) as server, server.client(token) as client:
        results: dict[str, Measurement] = {}
        n, warm = plan["requests"], plan["warmup"]
        results["get"] = measure(
            client,
            n,
            warm,
            lambda i: client.get(f"/api/v2/artifacts/{rng.choice(seeded.artifact_ids)}"),
        )
        query = {"search": NEEDLE, "status": "locked", "limit": 100}
        results["list"] = measure(
            client, n, warm, lambda i: client.get("/api/v2/artifacts", params=query)
        )
        listed = client.get("/api/v2/artifacts", params=query).json()
        if listed.get("totalCount") != seeded.needle_locked:
            print(
                f"  warning: list found {listed.get('totalCount')} rows, "
                f"expected {seeded.needle_locked}",
                flush=True,
            )
        # The floor and the create take turns, so both see the same machine (see the docs).
        results.update(
            measure_side_by_side(
                n,
                warm,
                {
                    "healthz": (lambda i: client.get("/healthz"), 200),
                    "create": (
                        lambda i: client.post(
                            "/api/v2/artifacts", json={"name": f"bench-{i}", "spec": spec(i)}
                        ),
                        201,
                    ),
                },
            )
        )
    return Result(backend=backend, size=size, seed_seconds=seconds, measurements=results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few requests")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--requests", type=int, help="requests per measurement")
    parser.add_argument("--sizes", help="comma-separated artifact counts (default 1000,100000)")
    parser.add_argument(
        "--write-docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write docs/benchmarks.md (default: on for full runs)",
    )
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.requests:
        plan["requests"] = args.requests
    if args.sizes:
        plan["sizes"] = tuple(int(part) for part in args.sizes.split(","))
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)

    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its cluster dir
        for backend in backends:
            with postgres_admin_url(workdir) if backend == "postgresql" else _nothing() as pg_admin:
                for size in plan["sizes"]:
                    print(f"{backend}, {size:,} artifacts", flush=True)
                    with database(backend, size, workdir, pg_admin) as url:
                        results.append(run_size(backend, size, url, workdir, plan))

    machine = (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start"
    )
    table = render(results, plan, machine)
    print()
    print(table)
    if args.json:
        write_measures(args.json, "api", measures(results))
    if args.write_docs or (args.write_docs is None and not args.quick):
        write_docs(ROOT / "docs" / "benchmarks.md", table)
        print("written to docs/benchmarks.md")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
