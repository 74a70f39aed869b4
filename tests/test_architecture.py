"""The layout's rules, read from the source (docs/architecture.md):
dependencies between subpackages point one way, no private name crosses a
subpackage, the catalog knows nothing of the rest of nnbench, no module
grows past the size where it does several jobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "nnbench"

# Each subpackage and the subpackages it may import (directly). The order is
# the dependency direction: a subpackage imports only those after it.
ALLOWED = {
    "cli": {"run", "report", "compare", "profile", "integrations", "measure", "results", "layers"},
    "integrations": {"measure", "results", "layers"},
    "report": {"compare", "measure", "results", "layers"},
    "run": {"compare", "profile", "measure", "results", "layers"},
    "compare": {"profile", "measure", "results"},
    "profile": {"measure", "results", "layers"},
    "measure": {"results", "layers"},
    "results": set(),
    "layers": set(),
}
MAX_LINES = 450


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        sub = rel.parts[0] if len(rel.parts) > 1 else None  # None: nnbench/__init__.py, __main__.py
        yield path, sub, ast.parse(path.read_text(), str(path))


def _imports(tree):
    """``(module, name)`` for every import of nnbench code (name None for ``import x``)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "nnbench"
        ):
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nnbench":
                    yield alias.name, None


def _target(module: str, name: str | None) -> tuple[str | None, list[str]]:
    """The subpackage an import reaches and the dotted parts below it."""
    parts = module.split(".")[1:] + ([name] if name else [])
    if not parts or parts[0] not in ALLOWED:
        return None, parts
    return parts[0], parts[1:]


def test_every_subpackage_is_placed():
    subs = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subs == set(ALLOWED), "a new subpackage needs its place in ALLOWED and docs/architecture.md"


def test_dependencies_point_one_way():
    bad = []
    for path, sub, tree in _modules():
        if sub is None:
            continue
        for module, name in _imports(tree):
            target, _ = _target(module, name)
            if target is not None and target != sub and target not in ALLOWED[sub]:
                bad.append(f"{path.relative_to(PKG.parent)}: {sub} imports {module}{'.' + name if name else ''}")
    assert not bad, "\n".join(bad)


def test_allowed_graph_has_no_cycles():
    seen: dict[str, int] = {}

    def visit(node, stack):
        assert node not in stack, f"cycle: {' -> '.join([*stack, node])}"
        if node not in seen:
            for nxt in ALLOWED[node]:
                visit(nxt, [*stack, node])
            seen[node] = 1

    for node in ALLOWED:
        visit(node, [])


def test_no_private_name_crosses_a_subpackage():
    bad = []
    for path, sub, tree in _modules():
        for module, name in _imports(tree):
            target, below = _target(module, name)
            if target is None or target == sub:
                continue
            private = [p for p in below if p.startswith("_") and p != "__init__"]
            if private:
                bad.append(f"{path.relative_to(PKG.parent)}: {module} import {name}")
    assert not bad, "\n".join(bad)


def test_the_catalog_knows_nothing_of_nnbench():
    for path, sub, tree in _modules():
        if sub == "layers":
            for module, name in _imports(tree):
                assert _target(module, name)[0] == "layers", f"{path}: imports {module}"


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_does_several_jobs(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, (
        f"{path.relative_to(PKG.parent)} has {lines} lines (at most {MAX_LINES}): split it by job"
    )
