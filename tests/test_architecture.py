"""The package's shape, checked: no import cycle, imports only downwards, modules under 400 lines.

Every import of every module is read from its source (module-level and function-level alike),
so ``pytest tests/test_architecture.py`` is the command that shows the layering holds. The
layers, lowest first, are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "newtonglm"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE
#: Lowest first: a module may import its own layer and the layers below, never one above.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names)
    for names in (
        {"_typing", "exceptions", "parallel", "_gram", "datasets"},
        {"families"},
        {"design"},
        {"engine"},
        {"dask"},
        {"solvers"},
        {"inference"},
        {"fitting"},
        {"analysis"},
        {"estimators"},
        {"cli", "cli_input", "cli_messages", "demo", "__main__", "__init__"},
    )
)
#: The only package outside ``dask`` that may import it, and only inside functions.
DASK_DOOR = f"{PACKAGE}.estimators"
#: Solver modules share code through these only (no solver imports another solver).
SOLVER_SHARED = {"base", "_steps", "history", "__init__"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    # Compiled modules are known by their stubs (_gram.pyi).
    paths = [
        *ROOT.rglob("*.py"),
        *(p for p in ROOT.rglob("*.pyi") if not p.with_suffix(".py").exists()),
    ]
    for path in sorted(paths):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return (ROOT.parent / name.replace(".", "/") / "__init__.py").exists()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, imported at module level) for every import of ``name``'s source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        at_top = id(node) in top_level or _in_type_checking(tree, node)
        if isinstance(node, ast.Import):
            found += [(a.name, at_top) for a in node.names if a.name.startswith(PACKAGE)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith(PACKAGE):
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, at_top))
    return [(t, top) for t, top in found if t in MODULES]


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            if any(node is child for child in ast.walk(stmt)):
                return True
    return False


def _graph() -> dict[str, set[str]]:
    """Module → modules it makes Python execute: its imports and their parent packages.

    A parent package's ``__init__`` runs before its module, except the root package (the
    public facade) and the importer's own packages (already being initialised).
    """
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges: set[str] = set()
        own = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
        for target, _top in _imports(name, path):
            if target == name:
                continue
            edges.add(target)
            parts = target.split(".")
            for k in range(2, len(parts)):
                parent = ".".join(parts[:k])
                if parent not in own:
                    edges.add(parent)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _layer(name: str) -> int:
    first = name.split(".")[1] if "." in name else "__init__"
    for rank, members in enumerate(LAYERS):
        if first in members:
            return rank
    raise AssertionError(f"module {name} is in no layer of LAYERS; add its folder to one")


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_every_module_is_in_a_layer():
    for name in MODULES:
        _layer(name)


def test_imports_go_only_downwards():
    upward = [
        f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
        for name, path in MODULES.items()
        for target, _top in _imports(name, path)
        if _layer(target) > _layer(name)
    ]
    assert upward == []


def test_dask_is_imported_lazily_and_only_by_the_estimators():
    wrong = [
        f"{name} imports {target}" + (" at module level" if top else "")
        for name, path in MODULES.items()
        if not name.startswith(f"{PACKAGE}.dask")
        for target, top in _imports(name, path)
        if target.startswith(f"{PACKAGE}.dask") and (top or not name.startswith(DASK_DOOR))
    ]
    assert wrong == []


def test_solvers_do_not_import_each_other():
    sideways = [
        f"{name} imports {target}"
        for name, path in MODULES.items()
        if name.startswith(f"{PACKAGE}.solvers.")
        for target, _top in _imports(name, path)
        if target.startswith(f"{PACKAGE}.solvers.")
        and target.rpartition(".")[2] not in SOLVER_SHARED
    ]
    assert sideways == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_under_400_lines(name):
    n_lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_LINES, f"{name} has {n_lines} lines; split it by responsibility"


def test_the_checks_see_a_cycle_and_an_upward_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _layer(f"{PACKAGE}.engine.dense") < _layer(f"{PACKAGE}.solvers.newton")
