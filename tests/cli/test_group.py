"""Global options anywhere on the line."""

from __future__ import annotations

from dockyard.cli.group import hoist_global_options


def test_global_options_move_to_the_front() -> None:
    assert hoist_global_options(["artifact", "get", "X", "-o", "json"]) == [
        "-o",
        "json",
        "artifact",
        "get",
        "X",
    ]
    assert hoist_global_options(["wl", "list", "--output-format=json", "--debug"]) == [
        "--output-format=json",
        "--debug",
        "wl",
        "list",
    ]
    assert hoist_global_options(["artifact", "list", "-ojson"]) == ["-ojson", "artifact", "list"]
    # After `--`, nothing is an option.
    assert hoist_global_options(["workload", "invoke", "X", "--", "-o"]) == [
        "workload",
        "invoke",
        "X",
        "--",
        "-o",
    ]
