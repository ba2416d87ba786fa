"""No import cycles among the project's modules, read from the source.

Every import counts, including those under `if TYPE_CHECKING:` and inside functions: a cycle hidden that way
still ties the modules together, and the next change to it tends to become an import error at start-up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "clients", "core", "fake_telegram", "mtproto", "storage", "webserver")
SCRIPTS = ("run",)


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    path: Path
    line: int


def project_modules(root: Path, packages: Iterable[str], scripts: Iterable[str] = ()) -> dict[str, Path]:
    """Dotted module name -> file; a package's `__init__.py` is the module named after the package."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    for script in scripts:
        modules[script] = root / f"{script}.py"
    return modules


def _deepest(name: str, modules: Mapping[str, Path]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _imported_names(module: str, path: Path, tree: ast.AST) -> Iterator[tuple[str, int]]:
    # ast.walk visits every node, so imports under TYPE_CHECKING, in functions and in try blocks all count.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A package's __init__ is its own anchor for `.`; a plain module's anchor is its package.
                anchor = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                up = node.level - 1
                if up >= len(anchor):
                    continue  # beyond the top-level package: Python refuses it too
                base = anchor[: len(anchor) - up] + ([node.module] if node.module else [])
                prefix = ".".join(base)
            else:
                prefix = node.module or ""
            for alias in node.names:
                # `from x import name` may name a submodule or an attribute; the deepest module that exists wins.
                yield (prefix if alias.name == "*" else f"{prefix}.{alias.name}"), node.lineno


def import_edges(modules: Mapping[str, Path]) -> list[Edge]:
    edges: set[Edge] = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line in _imported_names(module, path, tree):
            target = _deepest(name, modules)
            if target is not None and target != module:
                edges.add(Edge(module, target, path, line))
    return sorted(edges)


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm without recursion; every component, each sorted, in the order they complete."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> Iterator[str]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return iter(sorted(graph.get(node, ())))

    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, visit(start))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    work.append((child, visit(child)))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def find_cycles(edges: Iterable[Edge]) -> list[tuple[list[str], list[Edge]]]:
    """Each group of modules that import each other (directly or around a loop), with the imports inside it."""
    edges = list(edges)
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    cycles = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        inside = [edge for edge in edges if edge.source in members and edge.target in members]
        cycles.append((component, sorted(inside)))
    return sorted(cycles)


def cycle_report(cycles: Iterable[tuple[list[str], list[Edge]]], root: Path) -> str:
    lines = []
    for component, inside in cycles:
        lines.append("cycle: " + " <-> ".join(component))
        lines.extend(f"  {edge.path.relative_to(root)}:{edge.line} imports {edge.target}" for edge in inside)
    return "\n".join(lines)


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.fixture(scope="module")
def project_cycles() -> list[tuple[list[str], list[Edge]]]:
    return find_cycles(import_edges(project_modules(ROOT, PACKAGES, SCRIPTS)))


@pytest.mark.parametrize("package", [*PACKAGES, *SCRIPTS])
def test_no_import_cycles(package: str, project_cycles: list[tuple[list[str], list[Edge]]]) -> None:
    mine = [cycle for cycle in project_cycles if any(_top(module) == package for module in cycle[0])]
    assert not mine, "import cycles:\n" + cycle_report(mine, ROOT)


def test_every_package_is_read() -> None:
    modules = project_modules(ROOT, PACKAGES, SCRIPTS)
    assert {_top(module) for module in modules} == {*PACKAGES, *SCRIPTS}
    edges = import_edges(modules)
    # Known real imports, one absolute and one relative, so a resolver that finds nothing cannot pass.
    assert any(e.source == "webserver.routes.docs" and e.target == "webserver.api" for e in edges)
    assert any(e.source == "fake_telegram.server" and e.target == "fake_telegram.delivery" for e in edges)


def test_tarjan_finds_components() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"]}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d", "e"], ["f"]]


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_hidden_cycles(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .c import helper\n",
            # a -> b only while type checking; b -> a through a relative import: still a cycle.
            "pkg/a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.b import B\n",
            "pkg/b.py": "from .a import A\n",
            # c reaches a inside a function only, and nothing reaches back: no cycle.
            "pkg/c.py": "def helper():\n    import pkg.a\n",
            "pkg/d.py": "from . import c\nfrom os import path\n",
            "pkg/sub/__init__.py": "from . import e\n",
            "pkg/sub/e.py": "from ..a import A\nfrom ... import beyond_the_root\n",
            "other/x.py": "from pkg.sub.e import A\n",
        },
    )
    modules = project_modules(tmp_path, ["pkg", "other"])
    assert set(modules) == {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.sub", "pkg.sub.e", "other.x"}
    edges = {(edge.source, edge.target, edge.line) for edge in import_edges(modules)}
    assert edges == {
        ("pkg", "pkg.c", 1),
        ("pkg.a", "pkg.b", 4),
        ("pkg.b", "pkg.a", 1),
        ("pkg.c", "pkg.a", 2),
        ("pkg.d", "pkg.c", 1),
        ("pkg.sub", "pkg.sub.e", 1),
        ("pkg.sub.e", "pkg.a", 1),
        ("other.x", "pkg.sub.e", 1),
    }
    cycles = find_cycles(import_edges(modules))
    assert [component for component, _ in cycles] == [["pkg.a", "pkg.b"]]
    report = cycle_report(cycles, tmp_path)
    assert "cycle: pkg.a <-> pkg.b" in report
    assert "pkg/a.py:4 imports pkg.b" in report
    assert "pkg/b.py:1 imports pkg.a" in report


def test_checker_sees_a_cycle_through_a_package_init(tmp_path: Path) -> None:
    # A package's __init__ is a module of its own: re-exporting from a submodule that imports the package is a cycle.
    _write(tmp_path, {"pkg/__init__.py": "from .m import thing\n", "pkg/m.py": "import pkg\n"})
    cycles = find_cycles(import_edges(project_modules(tmp_path, ["pkg"])))
    assert [component for component, _ in cycles] == [["pkg", "pkg.m"]]
