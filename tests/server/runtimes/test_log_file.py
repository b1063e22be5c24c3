"""Reading the engine's own log file: whole lines, both streams, in the order written."""

from __future__ import annotations

from pathlib import Path

from dockyard.server.runtimes.log_file import api_lines, read_log_file

RECORDS = """\
2026-12-03T18:13:14.140543444+00:00 stdout F a
2026-12-03T18:13:14.140543444+00:00 stdout P tick
2026-12-03T18:13:14.140655753+00:00 stderr F b
2026-12-03T18:13:14.342668255+00:00 stdout F  4
2026-12-03T18:13:14.342668255+00:00 stdout F
2026-12-03T18:13:14.342668256+00:00 stdout P last
"""


def test_partial_records_join_into_the_lines_the_program_wrote(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_text(RECORDS)
    lines = read_log_file(str(log))
    assert lines is not None
    assert [(stream, text) for _, stream, text in lines] == [
        ("stdout", "a"),
        ("stderr", "b"),
        ("stdout", "tick 4"),
        ("stdout", ""),
        ("stdout", "last"),
    ]
    assert lines[2][0].microsecond == 140543  # a joined line keeps its first record's time
    tail = read_log_file(str(log), tail=2)
    assert tail is not None and [text for _, _, text in tail] == ["", "last"]


def test_another_format_or_no_file_is_left_to_the_api(tmp_path: Path) -> None:
    other = tmp_path / "json.log"
    other.write_text('{"log":"a\\n","stream":"stdout","time":"2026-12-03T18:13:14Z"}\n')
    assert read_log_file(str(other)) is None
    assert read_log_file(str(tmp_path / "missing")) is None
    assert read_log_file(None) is None


def test_the_apis_partial_records_join_too() -> None:
    frames = [
        b"2026-12-03T17:54:36Z tick",
        b"2026-12-03T17:54:37Z  4\n",
        b"2026-12-03T17:54:37Z out\n2026-12-03T17:54:37Z more\n",
        b"2026-12-03T17:54:37Z last",
    ]
    lines = list(api_lines(frames))
    assert [text for _, text in lines] == ["tick 4", "out", "more", "last"]
    assert lines[0][0].second == 36  # a joined line keeps its first record's time
