"""The package's structure: no import cycles, no reaching into another module's private names,
and no source file so long that it hides a second module, unless its opening says why.

Imports are read from the source (every ``import`` statement, including those inside functions
and under ``TYPE_CHECKING``), so a cycle that only a lazy import closes still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "iomsim"
MAX_LINES = 900


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that ``name`` (a module, or a module's attribute) refers to."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) for every import of one of ours."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target:
                    out.append((target, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith(PACKAGE):
                continue
            for alias in node.names:
                sub = _resolve(f"{base}.{alias.name}", modules)
                if sub and sub != _resolve(base, modules):
                    out.append((sub, [], node.lineno))  # a submodule imported from a package
                else:
                    target = _resolve(base, modules)
                    if target:
                        out.append((target, [alias.name], node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for target, _, _ in _imports(module, path, modules):
            if target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
            visit(v)
    return found


def _is_ancestor_package(a: str, b: str) -> bool:
    return b.startswith(a + ".")


def test_no_import_cycles():
    graph = _graph()
    # A package's __init__ re-exporting its own submodules is how a public API is curated; it
    # is a cycle only when one of those submodules imports the package (or a sibling that does).
    graph = {m: {t for t in targets if not _is_ancestor_package(m, t)}
             for m, targets in graph.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_private_names_imported_from_another_module():
    modules = _modules()
    found = []
    for module, path in modules.items():
        for target, names, line in _imports(module, path, modules):
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{path.relative_to(SRC)}:{line}: {name} from {target}")
    assert found == []


def test_long_files_say_why_they_are_one_file():
    too_long = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        text = path.read_text()
        if text.count("\n") <= MAX_LINES:
            continue
        opening = ast.get_docstring(ast.parse(text)) or ""
        if "one file" not in opening.lower():
            too_long.append(f"{path.relative_to(SRC)}: {text.count(chr(10))} lines")
    assert too_long == []


# The layers of docs/architecture.md, lowest first: a module may import its own layer and those
# below it, never one above (the package's __init__ only re-exports, lazily).
LAYERS = [
    ("iomsim.errors", "iomsim.defaults", "iomsim._lazy", "iomsim.atomic",
     "iomsim.results_folder", "iomsim.folders"),
    ("iomsim.scenario", "iomsim.inputs"),
    ("iomsim.engine",),
    ("iomsim.economics", "iomsim.decomposition"),
    ("iomsim.execution", "iomsim.results", "iomsim.reporting"),
    ("iomsim.runner",),
    ("iomsim.experiments", "iomsim.calibration", "iomsim.posterior"),
    ("iomsim.cli",),
]


def _layer(module: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None


def test_every_module_has_a_layer():
    assert [m for m in _modules() if m != PACKAGE and _layer(m) is None] == []


def test_no_module_imports_a_layer_above_its_own():
    modules = _modules()
    upward = []
    for module, path in modules.items():
        if module == PACKAGE:
            continue
        for target, _, line in _imports(module, path, modules):
            if target != PACKAGE and _layer(target) > _layer(module):
                upward.append(f"{path.relative_to(SRC)}:{line}: {module} imports {target}")
    assert upward == []
