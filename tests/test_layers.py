"""The package's import structure, as ARCHITECTURE.md draws it: layers that import downwards
only, and no import circle between modules (lazy and type-only imports included: a circle that
hides behind a function-level import is still a misplaced definition)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pexlab"
# Bottom up.  A module may import its own package and the ones below it, never above.
LAYERS = [
    "core",
    "environment",
    "nodecache",
    "build",
    "storage",
    "package",
    "spark",
    "local",
    "cli",
    "server",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every pexlab module `path` imports, wherever the import statement is."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pexlab"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("pexlab"):
                continue
            # `from pexlab.x import y` names the submodule y when there is one, else a name
            # defined in (or re-exported by) pexlab.x.
            subs = {f"{base}.{a.name}" for a in node.names}
            modules = {s for s in subs if _path_of(s) is not None}
            found.update(modules)
            if modules != subs:
                found.add(base)
    found.discard(name)
    return found


def _path_of(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for candidate in (ROOT.parent / rel.with_suffix(".py"), ROOT.parent / rel / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    modules = {
        _module_name(p): p
        for p in ROOT.rglob("*.py")
        if "labextension" not in p.parts and p.name != "_version.py"
    }
    return {m: {i for i in _imports(p) if i in modules} for m, p in modules.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_layers_import_downwards_only() -> None:
    wrong = []
    for module, imports in _graph().items():
        layer = _layer(module)
        if layer in ("", "__main__"):  # the facade and `python -m pexlab` sit on top
            continue
        rank = LAYERS.index(layer)
        for imported in imports:
            other = _layer(imported)
            if other == "" or LAYERS.index(other) > rank:
                wrong.append(f"{module} -> {imported}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_no_import_circles() -> None:
    graph = _graph()
    # The package __init__ files re-export their modules: an edge module -> own package
    # __init__ would be a circle by construction, so modules must import siblings directly.
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_exists(layer: str) -> None:
    assert _path_of(f"pexlab.{layer}") is not None
