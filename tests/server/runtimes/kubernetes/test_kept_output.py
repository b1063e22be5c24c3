"""The output Dockyard keeps of pods it deletes: bounded per proton and over all of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockyard.server.runtimes.base import LogLine
from dockyard.server.runtimes.kubernetes.kept_output import KeptOutput

START = datetime(2026, 1, 1, tzinfo=UTC)


def lines(*texts: str, first: int = 0) -> list[LogLine]:
    return [
        LogLine(START + timedelta(seconds=first + i), "default-0", "main", "stdout", text)
        for i, text in enumerate(texts)
    ]


def test_a_proton_keeps_its_newest_lines_within_its_share() -> None:
    kept = KeptOutput(per_proton=10, total=100)
    kept.keep("p", "pod-a", lines("aaaa", "bbbb", first=0))
    kept.keep("p", "pod-b", lines("cccc", first=5))
    # 15 characters with newlines: the oldest line (of any pod) goes.
    assert {uid: [line.message for line in found] for uid, found in kept.of("p").items()} == {
        "pod-a": ["bbbb"],
        "pod-b": ["cccc"],
    }


def test_past_the_total_the_proton_kept_longest_goes_and_forget_drops_one() -> None:
    kept = KeptOutput(per_proton=100, total=12)
    kept.keep("old", "pod", lines("aaaaa"))
    kept.keep("new", "pod", lines("bbbbb"))
    assert kept.of("old") and kept.of("new")
    kept.keep("newest", "pod", lines("ccccc"))
    assert kept.of("old") == {} and kept.of("new") and kept.of("newest")
    kept.forget("new")
    assert kept.of("new") == {}
