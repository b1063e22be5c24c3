"""Before/after comparison of the benchmarks, for a change that must not make Dockyard slower.

    python -m bench.compare --before c9a1b3c --after main             # 5 runs a side
    python -m bench.compare --before c9a1b3c --after main --runs 1 --only api,proxy
    python -m bench.compare --before c9a1b3c --after main --write-docs   # records the table

Each revision is checked out in a throwaway git worktree. The benchmark code is this
checkout's `bench/` for both sides, so one instrument measures both; only the `dockyard`
package comes from the revision (see `Side`). Each benchmark runs in its short form (`SHORT`)
N times a side, before and after taking turns, so a busy moment of the machine falls on both
alike; each run writes its measures with `--json` (`bench/report.py`). Per measure the table
gives the median of each side, the change, and whether the loss stays within `BUDGET` percent
(which way is a loss depends on the measure: times lower, throughput higher).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Measure, read_measures, replace_section

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:compare:start -->", "<!-- bench:compare:end -->"
BUDGET = 10.0  # percent a measure may lose

# The short form of each benchmark: a few minutes for all of them, 5 runs a side, on 2 cores.
SHORT: dict[str, list[str]] = {
    "api": ["--backend", "sqlite", "--sizes", "1000", "--requests", "100", "--no-write-docs"],
    "proxy": ["--seconds", "2", "--rounds", "1", "--stream-mb", "256", "--no-naive", "--no-docs"],
    "workload_start": ["--rounds", "1", "--idle", "20", "--window", "20", "--no-docs"],
    "concurrency": ["--rounds", "1", "--writes", "200", "--backend", "sqlite", "--no-docs"],
}
RUN_TIMEOUT = 600


# --- the arithmetic ---------------------------------------------------------------------------


def change_percent(before: float, after: float) -> float:
    """How much `after` differs from `before`, in percent of `before`."""
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before) * 100


def loss_percent(before: float, after: float, better: str) -> float:
    """The change counted as a loss: positive when `after` is worse."""
    change = change_percent(before, after)
    return change if better == "lower" else -change


@dataclass
class Row:
    """One measure of one benchmark, with every run's value on each side."""

    name: str
    unit: str
    better: str
    baseline: str | None
    before: list[float] = field(default_factory=list)
    after: list[float] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.before) and bool(self.after)

    @property
    def before_median(self) -> float:
        return statistics.median(self.before)

    @property
    def after_median(self) -> float:
        return statistics.median(self.after)

    @property
    def change(self) -> float:
        return change_percent(self.before_median, self.after_median)

    @property
    def loss(self) -> float:
        return loss_percent(self.before_median, self.after_median, self.better)

    @property
    def within_budget(self) -> bool:
        return self.complete and self.loss <= BUDGET


def gather(before: list[list[Measure]], after: list[list[Measure]]) -> list[Row]:
    """Rows of every measure any run reported, in the order the benchmark reports them."""
    rows: dict[str, Row] = {}
    for side, runs in (("before", before), ("after", after)):
        for measures in runs:
            for measure in measures:
                row = rows.setdefault(
                    measure.name, Row(measure.name, measure.unit, measure.better, measure.baseline)
                )
                getattr(row, side).append(measure.value)
    return list(rows.values())


# --- the two revisions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One revision: its worktree, and the interpreter and environment its runs use.

    With the same dependencies and entry point as this checkout, the runs reuse this
    interpreter and its installed packages, with the revision's `src/` first on PYTHONPATH
    (ahead of the editable install, which sits in site-packages): installing the same
    packages again would measure nothing more and take minutes. Otherwise the revision gets a
    venv of its own (`pip install -e`)."""

    label: str
    revision: str
    commit: str
    tree: Path
    python: str
    env: dict[str, str]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _install_surface(pyproject: Path) -> dict:
    project = tomllib.loads(pyproject.read_text())["project"]
    keys = ("dependencies", "optional-dependencies", "scripts", "requires-python")
    return {key: project.get(key) for key in keys}


def _checkout(label: str, revision: str, work: Path) -> tuple[str, Path]:
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    tree = work / label
    _git("worktree", "add", "--detach", str(tree), commit)
    return commit, tree


def _side(label: str, revision: str, commit: str, tree: Path, own_venv: bool, why: str) -> Side:
    env = {**os.environ}
    if not own_venv:
        python = sys.executable
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(ROOT)])
        how = "this interpreter's packages, the revision's src/ first on PYTHONPATH"
    else:
        venv = tree.parent / f"venv-{label}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "-e", str(tree)], check=True)
        env["PYTHONPATH"] = str(ROOT)
        how = f"a venv of its own ({why})"
    # A fresh tree has no bytecode yet: compiled once here, not in the first run's start.
    subprocess.run([python, "-m", "compileall", "-q", str(tree / "src")], check=True)
    found = subprocess.run(
        [python, "-c", "import dockyard; print(dockyard.__file__)"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(found).is_relative_to(tree):
        raise SystemExit(f"{label}: dockyard imports from {found}, not from {tree}")
    print(f"{label}: {revision} = {commit[:7]}, {how}", flush=True)
    return Side(label, revision, commit, tree, python, env)


def installs_differing(ours: dict, theirs: dict[str, dict]) -> list[str]:
    """The sides whose install surface is not this checkout's; any one makes both install."""
    return [label for label, surface in theirs.items() if surface != ours]


@contextmanager
def sides(before: str, after: str, own_venv: bool) -> Iterator[tuple[Side, Side]]:
    """Both revisions, installed the same way.

    The two sides always share one kind of environment: when either revision's dependencies
    differ from this checkout's, both get a fresh venv. A fresh venv against this checkout's
    development one (with every test tool installed) once showed a proxy "loss" of a third
    that the code did not have: the environments differed, not the revisions."""
    work = Path(tempfile.mkdtemp(prefix="dockyard-compare-"))
    work.chmod(0o755)  # benchmarks run services as other users (PostgreSQL, nginx workers)
    try:
        checkouts = {
            "before": (before, *_checkout("before", before, work)),
            "after": (after, *_checkout("after", after, work)),
        }
        differs = installs_differing(
            _install_surface(ROOT / "pyproject.toml"),
            {
                label: _install_surface(tree / "pyproject.toml")
                for label, (*_, tree) in checkouts.items()
            },
        )
        own = own_venv or bool(differs)
        why = "asked for" if own_venv else f"the dependencies of {' and '.join(differs)} differ"
        yield (
            _side("before", *checkouts["before"], own, why),
            _side("after", *checkouts["after"], own, why),
        )
    finally:
        for label in ("before", "after"):
            if (work / label).exists():
                _git("worktree", "remove", "--force", str(work / label))
        _git("worktree", "prune")
        shutil.rmtree(work, ignore_errors=True)


# --- running ---------------------------------------------------------------------------------


def cannot_run(benchmark: str) -> str | None:
    """Why a benchmark cannot run on this machine, or None."""
    if benchmark == "proxy":
        missing = [
            tool
            for tool in ("wrk", "nginx")
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()
        ]
        if missing:
            return f"{' and '.join(missing)} missing (as root: apt-get install -y wrk nginx)"
    engine = os.environ.get("DOCKER_HOST") or (shutil.which("podman") and os.geteuid() == 0)
    if benchmark == "workload_start" and not engine:
        return "no container engine: set DOCKER_HOST, or run as root with podman installed"
    return None


def run_once(benchmark: str, side: Side, out: Path, log: Path) -> tuple[list[Measure], float]:
    """One short run of a benchmark against a side: its measures and how long it took."""
    command = [side.python, "-m", f"bench.{benchmark}", *SHORT[benchmark], "--json", str(out)]
    began = time.monotonic()
    with log.open("wb") as sink:
        finished = subprocess.run(
            command,
            cwd=ROOT,
            env=side.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT,
        )
    seconds = time.monotonic() - began
    if finished.returncode != 0 or not out.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"exit status {finished.returncode}; the end of its output:\n{tail}")
    return read_measures(out), seconds


@dataclass
class Outcome:
    benchmark: str
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    problem: str | None = None


def compare_benchmark(benchmark: str, before: Side, after: Side, runs: int, work: Path) -> Outcome:
    outcome = Outcome(benchmark)
    reason = cannot_run(benchmark)
    if reason:
        outcome.problem = f"cannot run here: {reason}"
        print(f"{benchmark}: {outcome.problem}", flush=True)
        return outcome
    found: dict[str, list[list[Measure]]] = {"before": [], "after": []}
    began = time.monotonic()
    for index in range(runs):
        for side in (before, after):
            stem = work / f"{benchmark}-{side.label}-{index + 1}"
            try:
                measures, seconds = run_once(
                    benchmark, side, stem.with_suffix(".json"), stem.with_suffix(".log")
                )
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                print(f"{benchmark} run {index + 1} {side.label} failed: {error}", flush=True)
                if index == 0:  # broken, not unlucky: the other runs would fail alike
                    outcome.problem = f"failed on {side.label} ({side.revision}): {error}"
                    outcome.seconds = time.monotonic() - began
                    return outcome
                continue
            found[side.label].append(measures)
            print(f"{benchmark} run {index + 1} {side.label}: {seconds:.0f} s", flush=True)
    outcome.rows = gather(found["before"], found["after"])
    outcome.seconds = time.monotonic() - began
    return outcome


# --- the table -------------------------------------------------------------------------------


def _number(value: float, unit: str) -> str:
    if not unit:  # a count
        return f"{value:g}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
    return f"{value:,.{digits}f}{unit if unit == '×' else f' {unit}'}"


def _verdict(row: Row) -> str:
    if not row.complete:
        return "missing on a side"
    if row.within_budget:
        return "ok"
    return f"LOST {row.loss:.1f} %"


def render(outcomes: list[Outcome], before: Side, after: Side, runs: int, context: str) -> str:
    lines = [
        context,
        "",
        f"Before: `{before.revision}` ({before.commit[:7]}); after: `{after.revision}` "
        f"({after.commit[:7]}). Medians of {runs} short runs a side, taking turns; a measure "
        f"passes when it loses at most {BUDGET:.0f} % (times: lower is better; throughput and "
        "rates: higher is better). A relative measure is taken against another target of the "
        "same run, so it shrugs off a machine slower as a whole; an absolute one does not.",
    ]
    for outcome in outcomes:
        lines += ["", f"**{outcome.benchmark}** (`{' '.join(SHORT[outcome.benchmark])}`)", ""]
        if outcome.problem:
            lines.append(f"Not compared: {outcome.problem.splitlines()[0]}")
            continue
        lines += [
            "| measure | kind | better | before | after | change | |",
            "|---|---|---|---:|---:|---:|---|",
        ]
        for row in outcome.rows:
            kind = f"relative to {row.baseline}" if row.baseline else "absolute"
            before_cell = _number(row.before_median, row.unit) if row.before else "–"
            after_cell = _number(row.after_median, row.unit) if row.after else "–"
            change = f"{row.change:+.1f} %" if row.complete else "–"
            lines.append(
                f"| {row.name} | {kind} | {row.better} | {before_cell} | {after_cell} "
                f"| {change} | {_verdict(row)} |"
            )
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> tuple[str, bool]:
    lost = [
        f"{o.benchmark}: {row.name}" for o in outcomes for row in o.rows if not row.within_budget
    ]
    skipped = [o.benchmark for o in outcomes if o.problem]
    counted = sum(len(o.rows) for o in outcomes)
    parts = [f"{counted - len(lost)} of {counted} measures within {BUDGET:.0f} %"]
    if lost:
        parts.append("beyond it: " + "; ".join(lost))
    if skipped:
        parts.append("not compared: " + ", ".join(skipped))
    return ". ".join(parts) + ".", not lost and not skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the revision before the change")
    parser.add_argument("--after", required=True, help="the revision with the change")
    parser.add_argument("--runs", type=int, default=5, help="short runs of each benchmark a side")
    parser.add_argument(
        "--only", help=f"comma-separated benchmarks (default all: {','.join(SHORT)})"
    )
    parser.add_argument(
        "--own-venvs",
        action="store_true",
        help="install each revision in a venv of its own even when its dependencies match",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="write the table into docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(SHORT)
    unknown = [name for name in chosen if name not in SHORT]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(SHORT)}")

    began, load_start = time.monotonic(), os.getloadavg()[0]
    outcomes: list[Outcome] = []
    with (
        sides(args.before, args.after, args.own_venvs) as (before, after),
        tempfile.TemporaryDirectory(prefix="dockyard-compare-runs-") as runs_dir,
    ):
        for benchmark in chosen:
            outcome = compare_benchmark(benchmark, before, after, args.runs, Path(runs_dir))
            outcomes.append(outcome)
            print(f"{benchmark}: {outcome.seconds:.0f} s in all", flush=True)
    minutes = (time.monotonic() - began) / 60
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    context = (
        f"Compared {when} on {machine}, load average {load_start:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end, in {minutes:.0f} minutes: "
        f"`python -m bench.compare --before {args.before} --after {args.after} "
        f"--runs {args.runs}{f' --only {args.only}' if args.only else ''}`."
    )
    table = render(outcomes, before, after, args.runs, context)
    verdict, passed = summary(outcomes)
    table += "\n\n" + verdict
    print()
    print(table)
    if args.write_docs:
        replace_section(DOCS, START, END, "## Before/after comparisons", table)
        print(f"\nwritten to {DOCS}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
