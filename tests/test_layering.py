"""No mscl module imports a higher layer (layer order: the mscl/__init__.py docstring)."""
import ast
import re

from helpers import REPO

PACKAGE = REPO / "mscl"


def _layers() -> dict[str, int]:
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    layers = {}
    for num, names in re.findall(r"^(\d+)\. (.+)$", doc, re.M):
        for name in re.findall(r"``(\w+)``", names):
            layers[name] = int(num)
    return layers


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_module_is_in_a_layer_and_imports_only_lower_layers():
    layers = _layers()
    assert layers["params"] == 0 and layers["downstream"] > layers["pretrain"]
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        if rel.name == "__init__" and len(rel.parts) == 2:
            continue
        own = rel.parts[1]
        assert own in layers, f"{rel}: '{own}' has no layer in the mscl/__init__.py docstring"
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.startswith("mscl."):
                    assert layers[_top(name)] <= layers[own], f"{rel} (layer {layers[own]}) imports {name} (layer {layers[_top(name)]})"
