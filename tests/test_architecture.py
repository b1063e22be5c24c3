"""Import rules of the code base, checked by reading the source (no module is executed).

- `dockyard.core` is shared with the SDK and CLI: it imports nothing of server, cli or sdk.
- `dockyard.sdk` talks HTTP: it imports nothing of server or cli.
- `dockyard.cli` stays light: only the `serve` and `doctor` commands import the server, inside
  their functions.
- A request flows router → service → repository: routers never reach a repository, and
  nothing reaches back up (repositories import no service or router, services no router).
- Runtimes are plugins: one runtime never imports another.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dockyard"
RUNTIMES = ("docker", "process", "kubernetes", "fake")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module (or module.name for `from x import name`)
    line: int
    function: str | None  # enclosing function name, None at module level


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a relative import."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, name] if name else base)


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.functions: list[str] = []
        self.found: list[Import] = []

    def _add(self, target: str, node: ast.AST) -> None:
        function = self.functions[-1] if self.functions else None
        self.found.append(Import(self.module, target, node.lineno, function))  # type: ignore[attr-defined]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            # `from pkg import mod` imports a module; `from mod import name` a name in it.
            # Recording `base.name` covers both for prefix checks.
            self._add(f"{base}.{alias.name}" if alias.name != "*" else base, node)


def _all_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)
        collector = _Collector(module, path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(collector.found)
    return found


IMPORTS = _all_imports()


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _describe(bad: list[Import]) -> str:
    return "\n".join(f"  {i.module}:{i.line} imports {i.target}" for i in bad)


def _layer(module: str) -> str | None:
    """router, service or repository for the per-domain files (and packages) of the server."""
    if not _within(module, "dockyard.server"):
        return None
    for part in reversed(module.split(".")):
        if part in ("router", "routers") or part.endswith(("_router", "_pages")):
            return "router"  # HTTP entry points: API routers and the web UI's page handlers
        if part in ("service", "services"):
            return "service"
        if part in ("repository", "repositories"):
            return "repository"
    return None


def _target_layer(target: str) -> str | None:
    # `from dockyard.server.sharing import repository` and `...repository.roles_on` both count.
    parts = target.split(".")
    for index in range(len(parts), 0, -1):
        layer = _layer(".".join(parts[:index]))
        if layer is not None:
            return layer
    return None


def test_the_source_tree_was_read() -> None:
    modules = {i.module for i in IMPORTS}
    assert "dockyard.server.app" in modules
    assert "dockyard.cli.serve" in modules


@pytest.mark.parametrize("forbidden", ["dockyard.server", "dockyard.cli", "dockyard.sdk"])
def test_core_imports_nothing_above_it(forbidden: str) -> None:
    bad = [
        i for i in IMPORTS if _within(i.module, "dockyard.core") and _within(i.target, forbidden)
    ]
    assert not bad, "dockyard.core must stay independent:\n" + _describe(bad)


def test_sdk_talks_http_only() -> None:
    bad = [
        i
        for i in IMPORTS
        if _within(i.module, "dockyard.sdk")
        and (_within(i.target, "dockyard.server") or _within(i.target, "dockyard.cli"))
    ]
    assert not bad, "dockyard.sdk must not import the server or the CLI:\n" + _describe(bad)


# The commands that run on the server's own machine: they read its settings and files.
SERVER_COMMANDS = {("dockyard.cli.serve", "serve"), ("dockyard.cli.doctor", "doctor")}


def test_cli_imports_the_server_only_inside_the_serve_and_doctor_commands() -> None:
    bad = [
        i
        for i in IMPORTS
        if _within(i.module, "dockyard.cli")
        and _within(i.target, "dockyard.server")
        and (i.module, i.function) not in SERVER_COMMANDS
    ]
    assert not bad, "only `serve()` and `doctor()` may import the server:\n" + _describe(bad)


def test_routers_reach_repositories_only_through_services() -> None:
    bad = [
        i
        for i in IMPORTS
        if _layer(i.module) == "router" and _target_layer(i.target) == "repository"
    ]
    assert not bad, "a router calls a service, never a repository:\n" + _describe(bad)


@pytest.mark.parametrize(
    ("lower", "upper"),
    [("repository", "service"), ("repository", "router"), ("service", "router")],
)
def test_no_layer_reaches_back_up(lower: str, upper: str) -> None:
    bad = [i for i in IMPORTS if _layer(i.module) == lower and _target_layer(i.target) == upper]
    assert not bad, f"a {lower} must not import a {upper}:\n" + _describe(bad)


def test_runtimes_are_independent_of_each_other() -> None:
    package = "dockyard.server.runtimes"

    def runtime_of(name: str) -> str | None:
        if not _within(name, package):
            return None
        rest = name[len(package) + 1 :].split(".")
        return rest[0] if rest and rest[0] in RUNTIMES else None

    bad = [
        i
        for i in IMPORTS
        if (mine := runtime_of(i.module)) is not None
        and (theirs := runtime_of(i.target)) is not None
        and mine != theirs
    ]
    assert not bad, "one runtime must not import another:\n" + _describe(bad)


def test_the_rules_catch_a_violation() -> None:
    """The checker itself: a router importing a repository is seen, relative or absolute."""
    source = "from . import repository\nfrom dockyard.server.users.repository import get_user\n"
    collector = _Collector("dockyard.server.things.router", is_package=False)
    collector.visit(ast.parse(source))
    targets = [i.target for i in collector.found]
    assert targets == [
        "dockyard.server.things.repository",
        "dockyard.server.users.repository.get_user",
    ]
    assert all(_target_layer(t) == "repository" for t in targets)
    assert _layer(collector.module) == "router"
