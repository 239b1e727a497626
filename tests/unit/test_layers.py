"""The layers of training/ (its package docstring): a module imports only from its own layer and lower ones.

Every import counts, the ones inside functions too: a lazy import of a higher layer is still a cycle
in the design. pipeline/ is below every layer of training/ and never imports it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("options", "data", "models", "distill", "engine", "recipes", "run")


def _layer(module: str) -> int | None:
    """The layer index of a dotted module name under training (None for the package itself)."""
    parts = module.split(".")
    if parts[0] != "training" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1])


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module an absolute or relative import in `path` names."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
    return found


def _violations(folder: str, allowed) -> list[str]:
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for imported in _imports(path):
            if not allowed(_module(path), imported):
                bad.append(f"{_module(path)} imports {imported}")
    return bad


def test_every_training_module_sits_in_a_declared_layer():
    stray = [p.name for p in (ROOT / "training").glob("*.py") if p.stem not in ("__init__", *LAYERS)]
    folders = {p.name for p in (ROOT / "training").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert stray == [] and folders <= set(LAYERS), (stray, folders)


def test_no_layer_imports_a_higher_one():
    def allowed(module: str, imported: str) -> bool:
        own, other = _layer(module), _layer(imported)
        return own is None or other is None or other <= own

    assert _violations("training", allowed) == []


def test_pipeline_never_imports_training():
    assert _violations("pipeline", lambda module, imported: not imported.startswith("training")) == []


@pytest.mark.parametrize("module, imported, expected", [
    ("training.models.fusion", "training.options", True),
    ("training.data.loaders", "training.engine.trainer", False),
    ("training.options", "training.models.trn", False),
    ("training.run.train", "training.recipes", True),
])
def test_the_rule_itself(module, imported, expected):
    own, other = _layer(module), _layer(imported)
    assert (other <= own) is expected
