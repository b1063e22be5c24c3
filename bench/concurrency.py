"""An unrelated read under bursts of 500 concurrent writes, on SQLite and on PostgreSQL.

    python -m bench.concurrency                  # 3 rounds per database, rewrites the table
    python -m bench.concurrency --rounds 1 --no-docs --backend sqlite   # a quick look
    python -m bench.concurrency --rounds 1 --no-docs --json out.json   # measures for bench.compare

A real `dockyard serve` (fake runtime: containers are not what is measured) runs against a
fresh database. A separate process, the probe, sends `GET /users/me` one after the other on
its own keep-alive connection for the whole run, as another user would. Each round is an idle
window (nothing else runs), then the preparation of the burst's objects (not counted), then a
burst: 500 writes spread over every write route (`bench/load.py`), all at once, each on its
own connection. The probe's requests that start in idle windows give the idle p99, those that
start during bursts the loaded p99; idle and loaded windows take turns, so both see the same
machine. Target: loaded p99 ≤ 10 × idle p99, with no 5xx and no write left unanswered at 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.api import database, postgres_admin_url
from bench.load import WRITE_ROUTES, Outcome, burst
from bench.measure import Server
from bench.report import Measure, replace_section, write_measures

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:concurrency:start -->", "<!-- bench:concurrency:end -->"
TOKEN = "dy_bench_concurrency_" + "c" * 24
WRITES = 500
IDLE_SECONDS = 4.0
TARGET = 10.0


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the probe (a process of its own, so the burst's client does not slow its clock) ---------


def probe(url: str, out: Path, stop: Path) -> None:
    """GET /users/me in a loop until `stop` exists; writes [start, seconds, status] rows."""
    rows: list[tuple[float, float, int]] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while not stop.exists():
            began = time.monotonic()
            try:
                status = client.get("/api/v2/users/me").status_code
            except httpx.HTTPError:
                status = 0
            rows.append((began, time.monotonic() - began, status))
            if len(rows) == 1:
                out.with_suffix(".ready").touch()
            time.sleep(0.005)  # a user clicking, not a second load generator
    out.write_text(json.dumps(rows))


@contextmanager
def probing(url: str, workdir: Path) -> Iterator[Path]:
    out, stop = workdir / "probe.json", workdir / "probe.stop"
    stop.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.concurrency", "--probe", url, str(out), str(stop)],
        cwd=ROOT,
    )
    ready = out.with_suffix(".ready")
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the probe did not start")
        time.sleep(0.05)
    try:
        yield out
    finally:
        stop.touch()
        process.wait(timeout=120)


# --- one database ----------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    idle: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    bursts: list[Outcome] = field(default_factory=list)
    failed_reads: int = 0

    def p(self, which: str, q: float) -> float:
        return _quantile(getattr(self, which), q) * 1000

    @property
    def ratio(self) -> float:
        return self.p("loaded", 0.99) / self.p("idle", 0.99)


def run_backend(backend: str, url: str, workdir: Path, rounds: int, writes: int) -> Run:
    home = workdir / f"home-{backend}"
    env = {"DOCKYARD_ADMIN_TOKEN": TOKEN}
    windows: list[tuple[str, float, float]] = []
    result = Run(backend)
    with Server(url, home, runtime="fake", env=env) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for _ in range(50):  # warm-up
                c.get("/api/v2/users/me").raise_for_status()
        with probing(server.url, workdir) as samples_file:
            for index in range(rounds):
                began = time.monotonic()
                time.sleep(IDLE_SECONDS)
                windows.append(("idle", began, time.monotonic()))
                began = time.monotonic()
                outcome = asyncio.run(burst(server.url, TOKEN, writes, windows=windows))
                result.bursts.append(outcome)
                print(
                    f"  round {index + 1}: {writes} writes in {outcome.seconds:.1f} s, "
                    f"statuses {dict(sorted(outcome.statuses.items()))}, "
                    f"time-outs {outcome.timeouts}",
                    flush=True,
                )
    for began, seconds, status in json.loads(samples_file.read_text()):
        for kind, start, end in windows:
            if start <= began < end:
                getattr(result, kind).append(seconds)
                result.failed_reads += status != 200
    return result


# --- report ----------------------------------------------------------------------------------


def render(runs: list[Run], rounds: int, writes: int, machine: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {machine}; `python -m bench.concurrency --rounds {rounds}"
        f"{'' if writes == WRITES else f' --writes {writes}'}`: {rounds} "
        f"rounds per database, each an idle window of {IDLE_SECONDS:.0f} s and a burst of "
        f"{writes} concurrent writes over the {len(WRITE_ROUTES)} write routes.",
        "",
        "| backend | `GET /users/me` idle p50 / p99 | under the bursts p50 / p99 | p99 ratio "
        "| target | | writes: 5xx / time-outs | burst time (slowest write) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for run in runs:
        errors = sum(b.server_errors for b in run.bursts)
        timeouts = sum(b.timeouts for b in run.bursts)
        seconds = max(b.seconds for b in run.bursts)
        slowest = max(b.slowest_seconds for b in run.bursts)
        ok = run.ratio <= TARGET and errors == 0 and timeouts == 0 and run.failed_reads == 0
        lines.append(
            f"| {run.backend} | {run.p('idle', 0.5):.1f} / {run.p('idle', 0.99):.1f} ms "
            f"({len(run.idle)}) | {run.p('loaded', 0.5):.1f} / {run.p('loaded', 0.99):.1f} ms "
            f"({len(run.loaded)}) | {run.ratio:.1f}× | ≤ {TARGET:.0f}× | "
            f"{'ok' if ok else 'MISSED'} | {errors} / {timeouts} | "
            f"{seconds:.1f} s ({slowest:.1f} s) |"
        )
    lines += [
        "",
        "In brackets: the probe's requests in each kind of window. Burst time: the longest of "
        "the rounds, from the first write sent to the last answer.",
    ]
    return "\n".join(lines)


def measures(runs: list[Run]) -> list[Measure]:
    found: list[Measure] = []
    for run in runs:
        for which in ("idle", "loaded"):
            for q, label in ((0.5, "p50"), (0.99, "p99")):
                name = f"{run.backend} GET /users/me {which} {label}"
                found.append(Measure(name, run.p(which, q), "ms", "lower"))
        name = f"{run.backend} p99 under the bursts / idle p99"
        found.append(Measure(name, run.ratio, "×", "lower", "idle p99"))
        seconds = max(b.seconds for b in run.bursts)
        found.append(Measure(f"{run.backend} burst time", seconds, "s", "lower"))
        failed = sum(b.server_errors + b.timeouts for b in run.bursts) + run.failed_reads
        found.append(Measure(f"{run.backend} 5xx, time-outs, failed reads", failed, "", "lower"))
    return found


def write_docs(table: str, path: Path = DOCS) -> None:
    """Replace this benchmark's section only (other benchmarks write their own)."""
    replace_section(path, START, END, "## Concurrent writes", table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes", type=int, default=WRITES, help="writes in each burst")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the measures to this file")
    parser.add_argument("--probe", nargs=3, metavar=("URL", "OUT", "STOP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        url, out, stop = args.probe
        probe(url, Path(out), Path(stop))
        return 0
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    load = os.getloadavg()[0]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its cluster dir
        for backend in backends:
            print(backend, flush=True)
            admin = postgres_admin_url(workdir) if backend == "postgresql" else _nothing()
            with admin as pg_admin, database(backend, 0, workdir, pg_admin) as url:
                runs.append(run_backend(backend, url, workdir, args.rounds, args.writes))
    machine = (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start"
    )
    table = render(runs, args.rounds, args.writes, machine)
    print()
    print(table)
    if args.json:
        write_measures(args.json, "concurrency", measures(runs))
    if not args.no_docs:
        write_docs(table)
        print(f"\nwritten to {DOCS}")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
