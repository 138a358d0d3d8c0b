"""Imports flow one way (docs/architecture.md): read from the source with ast, so the check needs nothing installed.

data <- train <- convert; edge is the TF-free foundation convert and benchmarks build on; the small leaves (errors,
artifacts, options, host, render, data) import nothing of the pipeline; no module reaches itself through imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("train", "convert", "edge", "benchmarks")
LEAVES = ("errors", "artifacts", "options", "host", "render", "data")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(("fashion_edge", *parts))


def _source_files() -> dict[str, Path]:
    files = [*ROOT.glob("*.py"), *(p for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py"))]
    return {_module_name(p): p for p in files}


MODULES = _source_files()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported project module, at module level) for every import in the file, in functions too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from . import latency` imports a module; `from .card import read_card` a name in one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        found += [(t, id(node) in top_level) for t in targets if t.startswith("fashion_edge")]
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fashion_edge"


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}

# layer -> layers it must never import (directly, at any depth of a function)
FORBIDDEN = {
    "train": {"convert", "benchmarks", "edge"},
    "edge": {"train", "convert", "benchmarks"},
    **{leaf: {"train", "convert", "edge", "benchmarks"} for leaf in LEAVES},
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_flow_one_way(layer):
    wrong = [
        f"{name} imports {target}"
        for name, imports in GRAPH.items()
        if _layer(name) == layer
        for target, _ in imports
        if _layer(target) in FORBIDDEN[layer]
    ]
    assert not wrong, wrong


def test_benchmarks_reach_train_and_convert_only_inside_functions():
    """The benchmark runs on an edge-only install: train/convert (TensorFlow) only behind a function's import."""
    wrong = [
        f"{name} imports {target} at module level"
        for name, imports in GRAPH.items()
        if _layer(name) == "benchmarks"
        for target, top in imports
        if top and _layer(target) in ("train", "convert")
    ]
    assert not wrong, wrong


def test_no_import_cycles():
    edges = {name: {t for t, _ in imports if t in MODULES and t != name} for name, imports in GRAPH.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_check_sees_the_imports():
    """The graph is not empty by accident: known edges are found, relative and in functions."""
    assert ("fashion_edge.edge.card", True) in GRAPH["fashion_edge.edge.registry"]
    assert any(t == "fashion_edge.convert.qat" and not top for t, top in GRAPH["fashion_edge.convert.tflite"])
    assert ("fashion_edge.benchmarks.latency", True) in GRAPH["fashion_edge.benchmarks.run"]
