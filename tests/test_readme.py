"""The README stays true: every setting is documented, and CI can find the test command."""

from __future__ import annotations

from pathlib import Path

from dockyard.server.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
# Accepted for tests and deliberately left out of the user-facing docs.
UNDOCUMENTED_ON_PURPOSE: set[str] = set()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [
        f"DOCKYARD_{name.upper()}"
        for name in Settings.model_fields
        if name not in UNDOCUMENTED_ON_PURPOSE and f"`DOCKYARD_{name.upper()}`" not in README
    ]
    assert not missing, f"README.md's configuration table lacks {', '.join(missing)}"


def test_the_readme_marks_the_command_ci_runs() -> None:
    # .ci/run executes the first line of the code block under this marker.
    lines = README.splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1].startswith("```")
    assert "pytest" in lines[marker + 2]
