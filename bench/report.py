"""The benchmark's table and ratios, and their place in docs/benchmarks.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Measurement

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
LIST_TARGET = 1.5  # list p50 at the largest size / at the smallest
CREATE_TARGET = 5.0  # create p50 / healthz p50


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


def write_docs(path: Path, table: str) -> None:
    """Replace the text between the result markers (the rest of the page is prose)."""
    block = f"{START}\n{table}\n{END}"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    path.write_text(pattern.sub(lambda _: block, text))
