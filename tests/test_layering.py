"""Layering of mscl (the table in the mscl/__init__.py docstring): every import goes to a lower
layer, and each package's layer is one above the highest package it imports (the table says what
the code does, not a wish)."""
import ast
import re
from collections import defaultdict

from helpers import REPO

PACKAGE = REPO / "mscl"


def _layers() -> dict[str, int]:
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    layers = {}
    for num, names in re.findall(r"^(\d+)\. (.+)$", doc, re.M):
        for name in re.findall(r"``(\w+)``", names):
            layers[name] = int(num)
    return layers


def _imports(path) -> set[str]:
    """The mscl packages (or top-level modules) a file imports, anywhere in it."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if node.module == "mscl" else node.module for a in node.names]
        else:
            continue
        tops |= {n.split(".")[1] for n in names if n.startswith("mscl.")}
    return tops


def _package_imports() -> dict[str, set[str]]:
    deps = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        if rel.parts == ("__init__",):
            continue
        own = rel.parts[0]
        deps[own] |= _imports(path) - {own}
    return deps


def test_every_import_goes_to_a_lower_layer():
    layers = _layers()
    for own, tops in _package_imports().items():
        assert own in layers, f"mscl/{own}: no layer in the mscl/__init__.py docstring"
        for top in tops:
            assert layers[top] < layers[own], f"mscl/{own} (layer {layers[own]}) imports mscl.{top} (layer {layers[top]})"


def test_each_layer_is_one_above_the_highest_import():
    layers = _layers()
    deps = _package_imports()
    assert set(layers) == set(deps), "the layer table names exactly the packages and top-level modules of mscl"
    for own, tops in deps.items():
        assert layers[own] == 1 + max((layers[t] for t in tops), default=-1), f"mscl/{own}: imports {sorted(tops)}"


def test_stages_live_in_the_pipeline_package_and_nothing_below_runs_one():
    stages = {p.stem for p in (REPO / "stages").glob("*.py")}
    assert stages <= {p.stem for p in (PACKAGE / "pipeline").glob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name != "pipeline":
            text = path.read_text()
            assert "stage_params(" not in text or path.name == "params.py", f"{path}: reads a stage's params"
