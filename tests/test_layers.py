"""The package's structure, kept by tests and not by memory: no import cycle (imports inside functions
and under TYPE_CHECKING count), the engine names no kind, and every kind lives in one module that
the registry lists. `lint-imports` (in the test command) keeps the layers themselves."""

from __future__ import annotations

import ast
from pathlib import Path

from incidents.kinds import REGISTRY

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "incidents"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package this one imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    resolved = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name and target != "incidents":
            resolved.add(target)
    return resolved


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_engine_names_no_kind_and_no_feature() -> None:
    """The engine reaches kinds only through the registry and their shared contract."""
    allowed = {"incidents.kinds", "incidents.kinds.base"}
    for name, imported in _graph().items():
        if name.startswith("incidents.engine"):
            kinds = {m for m in imported if m.startswith("incidents.kinds")}
            assert kinds <= allowed, (name, kinds - allowed)


def test_every_kind_module_holds_one_registered_kind() -> None:
    """One module per kind: every module of incidents.kinds that defines a Kind is registered, once."""
    registered = {type(kind).__module__ for kind in REGISTRY}
    assert len(registered) == len(REGISTRY)
    defining = set()
    for name, path in _modules().items():
        if name.startswith("incidents.kinds.") and "(Kind):" in path.read_text(encoding="utf-8"):
            defining.add(name)
    assert defining == registered
    assert len({kind.name for kind in REGISTRY}) == len(REGISTRY)
