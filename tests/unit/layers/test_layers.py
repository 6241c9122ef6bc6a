"""The package's floors: nothing imports upward, and the operator and the server never import the trainer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "modelops"
# Who may import whom: the contract and the artifact format are the floor every part stands on.
FORBIDDEN = {
    "api": ("modelops.contract", "modelops.artifacts", "modelops.operator", "modelops.serving", "modelops.trainer"),
    "contract": ("modelops.artifacts", "modelops.operator", "modelops.serving", "modelops.trainer"),
    "artifacts": ("modelops.operator", "modelops.serving", "modelops.trainer"),
    "observability": ("modelops.artifacts", "modelops.operator", "modelops.serving", "modelops.trainer"),
    "operator": ("modelops.serving", "modelops.trainer"),
    "serving": ("modelops.operator", "modelops.trainer"),
    "trainer": ("modelops.operator", "modelops.serving"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in (PACKAGE / layer).rglob("*.py")
        for name in imported_modules(path)
        if name.startswith(FORBIDDEN[layer])
    }
    assert not offenders, sorted(offenders)
