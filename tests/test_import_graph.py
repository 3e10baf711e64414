"""No import circles in functions/, glue/, local/ and ops/, annotation-only and function-level imports included: a
module's types and helpers live below the modules that use them, so each room can be read, tested and changed from
the bottom up. The graph is read from the source (ast), never by importing it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where a module's own imports are resolved: the Lambdas' and the job's folders are on their runtime's path as
# top-level modules (CodeUri functions/, the Glue script's folder); local/ and ops/ are packages of the repository.
FLAT_ROOTS = ("functions", "glue")
PACKAGES = ("local", "ops", "glue/sor_job")  # glue/sor_job/ is the package sor_job (glue/ is on the job's path)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in FLAT_ROOTS:
        for path in sorted((ROOT / folder).glob("*.py")):
            found[path.stem] = path
    for package in PACKAGES:
        base = (ROOT / package).parent
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(tree: ast.AST, module: str, known: dict[str, Path]) -> Iterator[str]:
    package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {m: set(_imported(ast.parse(p.read_text()), m, known)) for m, p in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted: a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(import_graph()) == []


def test_ops_imports_nothing_of_local() -> None:
    """The operator's tools run against a real account: they never depend on the emulator (local/ builds on ops/)."""
    graph = import_graph()
    assert {m: sorted(i for i in imports if i.startswith("local")) for m, imports in graph.items()
            if m.startswith("ops") and any(i.startswith("local") for i in imports)} == {}  # fmt: skip


def test_the_cycle_finder_finds_a_circle_and_only_circles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
