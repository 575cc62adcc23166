"""The house's shape, read from the imports of every module (top-level, in functions and under
TYPE_CHECKING alike): no two modules import each other, however far round, and each floor
imports only the floors below it. A face never imports another face: what two faces share lives
below both."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_envmgr"

# What each part of the package may import of the package (besides itself).
ALLOWED: dict[str, set[str]] = {
    "events": set(),
    "progress_text": {"events"},
    "engine": {"events", "progress_text"},
    "channels": {"engine"},  # test and demo channels, built with the engine's helpers
    "kernels": {"engine", "events", "progress_text", "notebook"},  # links notebook/ into kernels
    "notebook": {"progress_text", "events"},  # through notebook/_shared.py only
    "cli": {"engine", "kernels", "events", "progress_text"},
    "server": {"engine", "kernels", "events", "progress_text"},
    "widget": {"notebook"},
    "__init__": {"server", "notebook"},  # entry points, imported lazily
    "__main__": {"cli"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The modules of this package that `path` imports (resolved to existing modules)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "jupyter_envmgr" or name.startswith("jupyter_envmgr."):
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for imported in _imports(path):
            # `from .x import y`: y may be a module or a name in x; keep what is a module.
            while imported not in files and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in files and imported != name and imported != "jupyter_envmgr":
                targets.add(imported)
        graph[name] = targets
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_two_modules_import_each_other():
    circles = _circles(_graph())
    assert not circles, f"import circles (move what both need below them): {circles}"


def test_each_floor_imports_only_the_floors_below_it():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _part(target) != _part(module) and _part(target) not in ALLOWED[_part(module)]
    )
    assert not wrong, f"imports across the floors (see docs/architecture.md): {wrong}"


def test_the_notebook_faces_import_from_outside_their_folder_in_one_place():
    # In an env's kernel that folder runs without this package (kernels/provisioner.py links
    # it alone): _shared.py is its one way out. The event kinds (events.py) are imported for
    # type checking only, which the kernel never runs.
    outside = sorted(
        module
        for module, targets in _graph().items()
        if _part(module) == "notebook"
        and any(_part(t) not in ("notebook", "events") for t in targets)
    )
    assert outside in ([], ["jupyter_envmgr.notebook._shared"]), outside
