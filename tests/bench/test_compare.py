"""bench.compare's arithmetic and the measures files it reads; the runs themselves are
benchmarks, not tests."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest
from bench import compare
from bench.compare import (
    Outcome,
    Row,
    change_percent,
    gather,
    loss_percent,
    summary,
)
from bench.report import Measure, read_measures, replace_section, write_measures


def test_change_is_a_percentage_of_before() -> None:
    assert change_percent(10.0, 11.0) == pytest.approx(10.0)
    assert change_percent(10.0, 9.0) == pytest.approx(-10.0)
    assert change_percent(0.0, 0.0) == 0.0
    assert change_percent(0.0, 2.0) == math.inf


def test_a_loss_follows_the_measure_direction() -> None:
    # A time that grows is a loss; a throughput that grows is a gain.
    assert loss_percent(10.0, 11.0, "lower") == pytest.approx(10.0)
    assert loss_percent(100.0, 110.0, "higher") == pytest.approx(-10.0)
    assert loss_percent(100.0, 88.0, "higher") == pytest.approx(12.0)
    assert loss_percent(2.0, 1.0, "lower") == pytest.approx(-50.0)


def _runs(name: str, better: str, values: list[float]) -> list[list[Measure]]:
    return [[Measure(name, value, "ms", better)] for value in values]


def test_rows_take_the_median_of_each_side_and_judge_the_loss() -> None:
    before = _runs("get p50", "lower", [10.0, 50.0, 10.0, 9.0, 11.0])
    within = gather(before, _runs("get p50", "lower", [11.0, 10.5, 1.0, 12.0, 11.0]))[0]
    assert (within.before_median, within.after_median) == (10.0, 11.0)
    assert within.within_budget  # exactly the budget

    beyond = gather(before, _runs("get p50", "lower", [11.5, 11.2, 11.1, 30.0, 2.0]))[0]
    assert beyond.loss == pytest.approx(12.0)
    assert not beyond.within_budget

    faster = gather(
        _runs("req/s", "higher", [1000.0, 1000.0, 1000.0]),
        _runs("req/s", "higher", [1500.0, 1500.0, 1500.0]),
    )[0]
    assert faster.change == pytest.approx(50.0)
    assert faster.within_budget


def test_a_measure_missing_on_one_side_is_not_within_budget() -> None:
    rows = gather(
        [[Measure("a", 1.0, "ms", "lower"), Measure("b", 1.0, "ms", "lower")]],
        [[Measure("a", 1.0, "ms", "lower")]],
    )
    assert [(row.name, row.complete, row.within_budget) for row in rows] == [
        ("a", True, True),
        ("b", False, False),
    ]


def test_a_count_that_leaves_zero_is_a_loss() -> None:
    row = Row("5xx", "", "lower", None, before=[0.0, 0.0, 0.0], after=[0.0, 1.0, 2.0])
    assert row.loss == math.inf
    assert not row.within_budget


def test_the_summary_names_every_loss_and_every_benchmark_not_compared() -> None:
    kept = Row("healthz p50", "ms", "lower", None, before=[1.0], after=[1.05])
    lost = Row("create / healthz", "×", "lower", "healthz", before=[3.0], after=[4.0])
    text, passed = summary(
        [Outcome("api", rows=[kept, lost]), Outcome("proxy", problem="cannot run here: wrk")]
    )
    assert not passed
    assert "1 of 2 measures within 10 %" in text
    assert "api: create / healthz" in text
    assert "not compared: proxy" in text
    assert summary([Outcome("api", rows=[kept])]) == ("1 of 1 measures within 10 %.", True)


def test_measures_read_back_as_written(tmp_path: Path) -> None:
    measures = [
        Measure("dockyard req/s (32 conns)", 7765.2, "req/s", "higher"),
        Measure("dockyard / nginx throughput", 0.2, "×", "higher", "nginx"),
    ]
    path = tmp_path / "run.json"
    write_measures(path, "proxy", measures)
    assert read_measures(path) == measures


def test_a_measures_file_in_the_documented_form_is_read(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(
        '{"benchmark": "api", "measures": [{"name": "sqlite 1,000 get p50", "value": 3.9, '
        '"unit": "ms", "better": "lower", "baseline": null}]}'
    )
    assert read_measures(path) == [Measure("sqlite 1,000 get p50", 3.9, "ms", "lower")]


def test_a_section_is_added_once_then_replaced_in_place(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nProse.\n")
    start, end = "<!-- s -->", "<!-- e -->"
    replace_section(page, start, end, "## Before/after", "first table")
    replace_section(page, start, end, "## Before/after", "second table")
    assert page.read_text() == (
        "# Benchmarks\n\nProse.\n\n## Before/after\n\n<!-- s -->\nsecond table\n<!-- e -->\n"
    )


def test_both_sides_install_fresh_when_either_differs() -> None:
    ours = {"dependencies": ["fastapi>=0.110"], "optional-dependencies": {"test": ["pytest"]}}
    grown = {**ours, "optional-dependencies": {"test": ["pytest", "mypy"]}}
    assert compare.installs_differing(ours, {"before": ours, "after": ours}) == []
    assert compare.installs_differing(ours, {"before": grown, "after": ours}) == ["before"]


def test_sides_of_one_revision_share_this_interpreter() -> None:
    with compare.sides("HEAD", "HEAD", own_venv=False) as (before, after):
        assert before.python == after.python == sys.executable
        assert before.tree != after.tree
        assert before.env["PYTHONPATH"].split(os.pathsep)[0] == str(before.tree / "src")
