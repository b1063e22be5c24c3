"""The docs point at things that exist: every relative link of README.md and docs/*.md reaches a
file (and, with a `#fragment`, one of its headings), and every file path they name in backticks
is a file or directory of the repository.

A path starting at the repository's root (`src/...`, `bench/...`, `tests/...`) must exist as
written; a shorter one ending in `.py` (`kit/intake.py`, as the docs write paths inside the
package they describe) must end the path of some file under src/, bench/ or tests/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
ROOTED = ("src/", "bench/", "tests/", "scripts/", "docs/", ".ci/")

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`\s]+)`")
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def _prose(text: str) -> str:
    """The page without its fenced code blocks (commands and examples, not references)."""
    return _FENCE.sub("", text)


def anchors(text: str) -> set[str]:
    """The fragments a page's headings answer to, as GitHub renders them."""
    found: set[str] = set()
    for heading in _HEADING.findall(_prose(text)):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:  # a repeated heading gets -1, -2, …
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def broken_links(page: Path) -> list[str]:
    """Relative links of `page` that reach no file, or no heading of the page they name."""
    broken = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked.read_text()):
            broken.append(f"{target} (no such heading)")
    return broken


def _repository_files(root: Path) -> list[str]:
    return [
        path.relative_to(root).as_posix()
        for top in ("src", "bench", "tests")
        if (root / top).is_dir()
        for path in (root / top).rglob("*.py")
    ]


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    """Paths named in backticks in `text` that are not in the repository at `root`."""
    files: list[str] | None = None
    missing = []
    for name in _CODE.findall(_prose(text)):
        if "<" in name or name.startswith(("/", "~", "$")):
            continue  # a placeholder, a URL path or a path on the user's machine
        if name.startswith(ROOTED):
            if not (root / name).exists():
                missing.append(name)
        elif name.endswith(".py"):
            files = files if files is not None else _repository_files(root)
            if not any(f == name or f.endswith("/" + name) for f in files):
                missing.append(name)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_reach_a_file_and_heading(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_paths_in_backticks_exist(page: Path) -> None:
    assert missing_paths(page.read_text()) == []


def test_the_checks_find_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg" / "kit").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "kit" / "intake.py").write_text("")
    (tmp_path / "other.md").write_text("# Other page\n\n## A `coded` heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#a-coded-heading) [gone](missing.md) [no heading](other.md#nowhere)\n"
        "[here](#page) [web](https://example.com/x.md)\n\n"
        "`kit/intake.py` `src/pkg/kit/intake.py` `kit/outtake.py` `src/pkg/gone.py`\n"
        "`tests/<domain>/` `/api/v2/docs`\n\n"
        "```sh\ncat `src/only/in/a/command.py`\n```\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nowhere (no such heading)"]
    assert missing_paths(page.read_text(), tmp_path) == ["kit/outtake.py", "src/pkg/gone.py"]
