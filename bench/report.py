"""What the benchmarks report: the API benchmark's table and ratios, every benchmark's
measures as JSON (`--json PATH`, read by `bench.compare`), and their place in
docs/benchmarks.md."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from bench.measure import Measurement

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
LIST_TARGET = 1.5  # list p50 at the largest size / at the smallest
CREATE_TARGET = 5.0  # create p50 / healthz p50


@dataclass(frozen=True)
class Measure:
    """One number a benchmark run found, and which way is better.

    `baseline` names what the value is taken against when it is a ratio (or a difference) to
    another target measured in the same run; such a value shrugs off a machine that is slower
    as a whole, an absolute time does not."""

    name: str
    value: float
    unit: str
    better: Literal["lower", "higher"]
    baseline: str | None = None


def write_measures(path: Path, benchmark: str, measures: list[Measure]) -> None:
    body = {"benchmark": benchmark, "measures": [asdict(measure) for measure in measures]}
    path.write_text(json.dumps(body, indent=1) + "\n")


def read_measures(path: Path) -> list[Measure]:
    body = json.loads(path.read_text())
    return [Measure(**measure) for measure in body["measures"]]


@dataclass(frozen=True)
class Result:
    backend: str
    size: int
    seed_seconds: float
    measurements: dict[str, Measurement]


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def render(results: list[Result], plan: dict, machine: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {machine}; {plan['requests']} requests per measurement after "
        f"{plan['warmup']} warm-up requests, one keep-alive client.",
        "",
        "| backend | artifacts | healthz p50/p99 | create p50/p99 | get p50/p99 "
        "| list p50/p99 | seeding |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        m = result.measurements
        cells = [
            f"{_ms(m[name].p50_ms)} / {_ms(m[name].p99_ms)}"
            for name in ("healthz", "create", "get", "list")
        ]
        lines.append(
            f"| {result.backend} | {result.size:,} | "
            + " | ".join(cells)
            + f" | {result.seed_seconds:.0f} s |"
        )
    lines += [
        "",
        "Times in milliseconds.",
        "",
        "| backend | ratio | value | target | |",
        "|---|---|---:|---:|---|",
    ]
    for backend in dict.fromkeys(result.backend for result in results):
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        small, large = mine[0], mine[-1]
        if small is not large:
            ratio = large.measurements["list"].p50_ms / small.measurements["list"].p50_ms
            lines.append(
                f"| {backend} | list p50 at {large.size:,} / at {small.size:,} | {ratio:.2f} "
                f"| ≤ {LIST_TARGET} | {_verdict(ratio, LIST_TARGET)} |"
            )
        for result in (small, large) if small is not large else (large,):
            ratio = result.measurements["create"].p50_ms / result.measurements["healthz"].p50_ms
            lines.append(
                f"| {backend} | create p50 / healthz p50 at {result.size:,} | {ratio:.2f} "
                f"| ≤ {CREATE_TARGET} | {_verdict(ratio, CREATE_TARGET)} |"
            )
    return "\n".join(lines)


def measures(results: list[Result]) -> list[Measure]:
    """The p50s of every backend and size, and the two ratios of the targets."""
    found: list[Measure] = []
    for result in results:
        where = f"{result.backend} {result.size:,}"
        for name in ("healthz", "create", "get", "list"):
            p50 = result.measurements[name].p50_ms
            found.append(Measure(f"{where} {name} p50", p50, "ms", "lower"))
        ratio = result.measurements["create"].p50_ms / result.measurements["healthz"].p50_ms
        found.append(Measure(f"{where} create / healthz p50", ratio, "×", "lower", "healthz"))
    for backend in dict.fromkeys(result.backend for result in results):
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        small, large = mine[0], mine[-1]
        if small is not large:
            ratio = large.measurements["list"].p50_ms / small.measurements["list"].p50_ms
            name = f"{backend} list p50 at {large.size:,} / at {small.size:,}"
            found.append(Measure(name, ratio, "×", "lower", f"list at {small.size:,}"))
    return found


def write_docs(path: Path, table: str) -> None:
    """Replace the text between the result markers (the rest of the page is prose)."""
    replace_section(path, START, END, "", table)


def replace_section(path: Path, start: str, end: str, heading: str, table: str) -> None:
    """Put `table` between a benchmark's markers in `path`, leaving the rest of the page.

    Where the markers are missing they go at the end, under `heading` (if any)."""
    block = f"{start}\n{table}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text:
        title = f"{heading}\n\n" if heading else ""
        path.write_text(text.rstrip() + f"\n\n{title}{block}\n")
        return
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: block, text))
