"""Import rules of the code base, checked by reading the source (no module is executed).

- `dockyard.core` is shared with the SDK and CLI: it imports nothing of server, cli or sdk.
- `dockyard.sdk` talks HTTP: it imports nothing of server or cli.
- `dockyard.cli` stays light: only the `serve` and `doctor` commands import the server, inside
  their functions.
- A request flows router → service → repository: routers never reach a repository, and
  nothing reaches back up (repositories import no service or router, services no router).
- Runtimes are plugins: one runtime never imports another.
- The server's packages depend one way, in the order `SERVER_ORDER` states (and
  docs/architecture.md explains): a package imports only packages of earlier layers, never a
  peer of its own layer, so no two packages import each other, directly or around a loop. Every
  import counts: at module level, inside a function, and under `if TYPE_CHECKING:` (a type the
  code names is a dependency of its design even when Python never loads it).
- SQL lives in repositories (see `sql_outside_repositories` for the exact rule).
"""

from __future__ import annotations

import ast
import itertools
import re
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


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
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


def _sources(src: Path) -> list[tuple[str, Path]]:
    """(dotted module, path) of every Python file under `src`, Alembic's migrations aside."""
    return [
        (_module_name(path, src), path)
        for path in sorted(src.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _all_imports(src: Path = SRC) -> list[Import]:
    found: list[Import] = []
    for module, path in _sources(src):
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


# --- Packages depend one way -----------------------------------------------------------------

# The server's packages (and top-level modules) from the bottom up. A package may import from
# earlier layers only; the packages of one layer are peers and import none of each other.
SERVER_ORDER: tuple[tuple[str, ...], ...] = (
    ("settings", "data_dir"),  # configuration, read by everything
    ("kit",),  # cross-cutting helpers: auth, clock, ids, errors, HTTP plumbing
    ("db",),  # engine, sessions, the unit of work, the ORM base
    ("http_server",),  # how uvicorn runs (the invoke proxy extends its protocol)
    ("installation", "runtimes"),  # facts about this install; where containers run
    ("platform",),  # the running server as the rules see it (runtime, settings, audit seal)
    ("users",),
    ("sessions", "sharing", "credentials", "tags"),
    ("statistics",),  # request statistics: counted by the proxy, stored per workload and minute
    ("artifacts",),
    ("artifact_repos",),
    ("workloads",),
    ("deployments",),
    ("autoscaling",),  # the autoscaler's rule and its inputs (every server's invoke load)
    ("reconciler", "proxy"),
    ("ui",),
    ("compute", "version", "health", "openapi", "docs_ui", "doctor"),
    ("routes", "models"),  # every router mounted; every table imported (for Alembic)
    ("app",),
)

# Imports that still break the order, each with what cuts it; the list only ever shrinks, and
# a test below fails when an entry is no longer needed. (importing module, imported package)
ORDER_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _server_package(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["dockyard", "server"]:
        return None
    return parts[2]


def _ranks(order: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {package: rank for rank, layer in enumerate(order) for package in layer}


def package_edges(
    imports: list[Import], exceptions: dict[tuple[str, str], str] | None = None
) -> dict[tuple[str, str], list[Import]]:
    """(importer, imported) server package → the imports that make the edge, leaving out the
    listed exceptions."""
    edges: dict[tuple[str, str], list[Import]] = {}
    for i in imports:
        mine, theirs = _server_package(i.module), _server_package(i.target)
        if exceptions and (i.module, theirs) in exceptions:
            continue
        if mine and theirs and mine != theirs:
            edges.setdefault((mine, theirs), []).append(i)
    return edges


def package_cycles(
    imports: list[Import], exceptions: dict[tuple[str, str], str] | None = None
) -> list[list[str]]:
    """Every strongly connected group of server packages, as one cycle through its members."""
    edges = package_edges(imports, exceptions)
    graph: dict[str, set[str]] = {}
    for mine, theirs in edges:
        graph.setdefault(mine, set()).add(theirs)
        graph.setdefault(theirs, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph has a few dozen nodes
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(group, graph) for group in groups]


def _cycle_through(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest loop from the group's first member back to itself, for the message."""
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & set(group)):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    return group


def describe_cycles(
    imports: list[Import], exceptions: dict[tuple[str, str], str] | None = None
) -> str:
    edges = package_edges(imports, exceptions)
    lines = []
    for cycle in package_cycles(imports, exceptions):
        lines.append("  " + " -> ".join(cycle))
        for mine, theirs in itertools.pairwise(cycle):
            first = edges[(mine, theirs)][0]
            lines.append(f"    {first.module}:{first.line} imports {first.target}")
    return "\n".join(lines)


def order_violations(
    imports: list[Import],
    order: tuple[tuple[str, ...], ...] = SERVER_ORDER,
    exceptions: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """Imports against the stated order, and server packages the order does not name."""
    ranks = _ranks(order)
    exceptions = ORDER_EXCEPTIONS if exceptions is None else exceptions
    problems = []
    for (mine, theirs), found in sorted(package_edges(imports).items()):
        for name in (mine, theirs):
            if name not in ranks:
                problems.append(f"  {name} is not in the stated package order")
        if mine not in ranks or theirs not in ranks or ranks[theirs] < ranks[mine]:
            continue
        for i in found:
            if (i.module, theirs) in exceptions:
                continue
            where = "a peer in its layer" if ranks[theirs] == ranks[mine] else "a later layer"
            problems.append(f"  {i.module}:{i.line} imports {i.target} ({theirs} is {where})")
    return sorted(set(problems))


def test_server_packages_import_each_other_in_no_cycle() -> None:
    cycles = package_cycles(IMPORTS, ORDER_EXCEPTIONS)
    assert not cycles, "server packages in a cycle:\n" + describe_cycles(IMPORTS, ORDER_EXCEPTIONS)


def test_server_packages_follow_the_stated_order() -> None:
    problems = order_violations(IMPORTS)
    assert not problems, "against the package order (SERVER_ORDER):\n" + "\n".join(problems)


def test_every_order_exception_is_still_needed() -> None:
    edges = package_edges(IMPORTS)
    stale = [
        key
        for key in ORDER_EXCEPTIONS
        if not any(
            i.module == key[0] for i in edges.get((_server_package(key[0]) or "", key[1]), [])
        )
    ]
    assert not stale, f"exceptions nothing needs any more (remove them): {stale}"


def test_every_server_package_is_in_the_order() -> None:
    on_disk = {
        path.stem if path.is_file() else path.name
        for path in (PACKAGE / "server").iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.stem != "__init__")
    }
    missing = on_disk - set(_ranks(SERVER_ORDER))
    assert not missing, f"add these to SERVER_ORDER (and docs/architecture.md): {sorted(missing)}"


def test_the_documented_order_is_the_checked_one() -> None:
    text = (SRC.parent / "docs" / "architecture.md").read_text()
    section = text.split("## Packages depend one way", 1)[1].split("\n## ", 1)[0]
    documented = tuple(
        tuple(re.findall(r"`(\w+)`", line.split(":")[0].split("(")[0]))
        for line in section.splitlines()
        if re.match(r"\d+\. ", line)
    )
    assert documented == SERVER_ORDER


# --- SQL lives in repositories ---------------------------------------------------------------

# What counts as SQL: building a statement or running one. Precisely, a module holds SQL when
# it imports from SQLAlchemy (any submodule, dialects included) one of STATEMENT_BUILDERS, uses
# one of them as an attribute of an imported `sqlalchemy` module, or calls one of
# SESSION_QUERIES on a receiver named `session`, `connection`, `conn` or `*_session`. Where
# clauses composed from column comparisons and `and_`/`or_` are not SQL by this rule: a listing
# module may build the filters of its query and hand them to a repository, which runs them.
# The ORM's table definitions (models.py) declare schema and hold no statements.
#
# SQL may live in: modules named `repository` (each domain's, and kit's shared look-ups),
# the `db` package (engine, sessions, migrations, batch inserts) and Alembic's migrations.
STATEMENT_BUILDERS = frozenset(
    {"select", "insert", "update", "delete", "func", "text", "exists", "union", "union_all"}
)
SESSION_QUERIES = frozenset({"execute", "scalar", "scalars", "query", "get", "exec_driver_sql"})
SQL_RECEIVERS = frozenset({"session", "connection", "conn"})

# Modules that still hold SQL outside a repository, each with why.
SQL_EXCEPTIONS: dict[str, str] = {}


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for every piece of SQL in one module's source, by the rule above."""
    found: list[tuple[int, str]] = []
    sqlalchemy_modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [(node.lineno, a.name) for a in node.names if a.name in STATEMENT_BUILDERS]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    sqlalchemy_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = _receiver_name(node.func.value)
            if (
                node.func.attr in SESSION_QUERIES
                and receiver is not None
                and (receiver in SQL_RECEIVERS or receiver.endswith("_session"))
            ):
                found.append((node.lineno, f"{receiver}.{node.func.attr}()"))
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in STATEMENT_BUILDERS
            and isinstance(node.value, ast.Name)
            and node.value.id in sqlalchemy_modules
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(found)


def _may_hold_sql(module: str) -> bool:
    return module.split(".")[-1] == "repository" or _within(module, "dockyard.server.db")


def sql_outside_repositories(
    src: Path = SRC, exceptions: dict[str, str] | None = None
) -> list[str]:
    exceptions = SQL_EXCEPTIONS if exceptions is None else exceptions
    problems = []
    for module, path in _sources(src):
        if _may_hold_sql(module) or module in exceptions:
            continue
        for line, what in sql_in(path.read_text()):
            problems.append(f"  {module}:{line} {what}")
    return problems


def test_sql_lives_only_in_repositories() -> None:
    problems = sql_outside_repositories()
    assert not problems, "SQL outside a repository module:\n" + "\n".join(problems)


def test_every_sql_exception_still_holds_sql() -> None:
    modules = dict(_sources(SRC))
    stale = [m for m in SQL_EXCEPTIONS if m not in modules or not sql_in(modules[m].read_text())]
    assert not stale, f"exceptions nothing needs any more (remove them): {stale}"


# --- The checkers themselves, on a small tree that breaks every rule --------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


BAD_TREE = {
    "dockyard/__init__.py": "",
    "dockyard/server/__init__.py": "",
    "dockyard/server/kit/__init__.py": "",
    "dockyard/server/kit/ids.py": "def new_id():\n    return 'x'\n",
    "dockyard/server/things/__init__.py": "",
    "dockyard/server/things/service.py": (
        "from sqlalchemy import select\n"
        "from sqlalchemy.orm import Session\n"
        "from dockyard.server.things.models import Thing\n"
        "from dockyard.server.kit.ids import new_id\n"
        "def first(session: Session):\n"
        "    from ..others import service\n"
        "    return session.scalars(select(Thing)).first()\n"
    ),
    "dockyard/server/things/repository.py": (
        "import sqlalchemy as sa\n"
        "def count(session):\n"
        "    return session.scalar(sa.select(sa.func.count()))\n"
    ),
    "dockyard/server/others/__init__.py": "",
    "dockyard/server/others/service.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from dockyard.server.things.service import first\n"
        "def rows(db):\n"
        "    with db.begin() as conn:\n"
        "        return conn.execute('SELECT 1')\n"
    ),
}


def test_the_cycle_checker_names_a_cycle(tmp_path: Path) -> None:
    imports = _all_imports(_write(tmp_path, BAD_TREE))
    assert package_cycles(imports) == [["others", "things", "others"]]
    message = describe_cycles(imports)
    assert (
        "dockyard.server.others.service:3 imports dockyard.server.things.service.first" in message
    )
    assert "dockyard.server.things.service:6 imports dockyard.server.others.service" in message


def test_the_order_checker_names_the_import_against_the_order(tmp_path: Path) -> None:
    imports = _all_imports(_write(tmp_path, BAD_TREE))
    order = (("kit",), ("things",), ("others",))
    assert order_violations(imports, order, exceptions={}) == [
        "  dockyard.server.things.service:6 imports dockyard.server.others.service"
        " (others is a later layer)"
    ]
    assert order_violations(imports, (("kit",), ("things", "others")), exceptions={}) == [
        "  dockyard.server.others.service:3 imports dockyard.server.things.service.first"
        " (things is a peer in its layer)",
        "  dockyard.server.things.service:6 imports dockyard.server.others.service"
        " (others is a peer in its layer)",
    ]
    unnamed = order_violations(imports, (("things", "others"),), exceptions={})
    assert "  kit is not in the stated package order" in unnamed


def test_the_sql_checker_finds_sql_in_a_service_only(tmp_path: Path) -> None:
    src = _write(tmp_path, BAD_TREE)
    assert sql_outside_repositories(src, exceptions={}) == [
        "  dockyard.server.others.service:6 conn.execute()",
        "  dockyard.server.things.service:1 select",
        "  dockyard.server.things.service:7 session.scalars()",
    ]
    assert sql_outside_repositories(src, exceptions={"dockyard.server.things.service": "x"}) == [
        "  dockyard.server.others.service:6 conn.execute()"
    ]
    # The repository's own SQL, written through the module, is seen but allowed.
    repository = (src / "dockyard/server/things/repository.py").read_text()
    assert sql_in(repository) == [(3, "sa.func"), (3, "sa.select"), (3, "session.scalar()")]
