"""dvc.yaml, stages/ and params.yaml agree."""
import ast
import importlib
import shlex

import yaml

from helpers import REPO

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def _paths(entries):
    return {e if isinstance(e, str) else next(iter(e)) for e in entries or []}


def _declared(stage):
    return _paths(stage.get("deps")) | _paths(stage.get("outs")) | _paths(stage.get("metrics")) | _paths(stage.get("plots"))


def test_every_stage_has_its_script_and_params_section():
    for name, stage in DVC.items():
        assert (REPO / "stages" / f"{name}.py").is_file(), name
        params = stage.get("params")
        assert params[0] == name, f"{name}: list the whole '{name}' section under params"
        assert name in PARAMS, f"params.yaml has no '{name}' section"
        for extra in params[1:]:  # single keys of another section, e.g. flow.step, evaluation.init
            section, key = extra.split(".")
            assert section in PARAMS and key in PARAMS[section], f"{name}: params entry {extra} does not exist"


def _cmd_options(stage) -> dict[str, str]:
    words = shlex.split(stage["cmd"])
    assert len(words) % 2 == 0 and all(w.startswith("--") for w in words[2::2]), words
    return {w[2:].replace("-", "_"): v for w, v in zip(words[2::2], words[3::2])}


def test_every_cmd_names_the_stage_paths_once_and_declares_them():
    for name, stage in DVC.items():
        words = shlex.split(stage["cmd"])
        assert words[:2] == ["python", f"stages/{name}.py"], name
        options = _cmd_options(stage)
        paths = importlib.import_module(f"mscl.pipeline.{name}").PATHS
        assert list(options) == ["params", *paths], f"{name}: cmd options differ from mscl.pipeline.{name}.PATHS"
        assert options["params"] == "params.yaml"
        declared = _declared(stage)
        for option, word in options.items():
            inside = any(word == d or word.startswith(d.rstrip("/") + "/") for d in declared)
            assert option == "params" or inside, f"{name}: {word} is in cmd but not in deps/outs"
            assert paths.get(option, "input").split(":")[0] in ("input", "output"), (name, option)


def test_data_deps_come_from_earlier_stages_and_code_deps_exist():
    produced = set()
    for name, stage in DVC.items():
        for dep in _paths(stage.get("deps")):
            from_earlier = any(dep == out or dep.startswith(out.rstrip("/") + "/") for out in produced)
            assert from_earlier or (REPO / dep).exists(), f"{name}: dep {dep} is neither code nor an earlier output"
        produced |= _paths(stage.get("outs")) | _paths(stage.get("metrics")) | _paths(stage.get("plots"))


# --------------------------------------------------------------------------- code deps = import closure


def _module_file(name: str):
    """The file of module ``name`` (``mscl.a.b`` -> mscl/a/b.py or mscl/a/b/__init__.py), or None
    (``from mscl.a import f`` also names ``mscl.a.f``, which is no module)."""
    base = REPO.joinpath(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _mscl_imports(path) -> set[str]:
    """Modules of mscl that ``path`` imports anywhere (top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.split(".")[0] == "mscl"}


def import_closure(script) -> set[str]:
    """Repository-relative paths of the mscl modules ``script`` runs, directly or through others
    (package ``__init__`` files left out: they hold only docstrings, checked below)."""
    seen, todo = set(), [script]
    while todo:
        for name in _mscl_imports(todo.pop()):
            f = _module_file(name)
            if f is not None and f not in seen:
                seen.add(f)
                todo.append(f)
    return {str(f.relative_to(REPO).as_posix()) for f in seen if f.name != "__init__.py"}


def _declared_code(stage) -> set[str]:
    """The mscl files a stage's deps name (a folder stands for every module under it)."""
    files = set()
    for dep in _paths(stage.get("deps")):
        if dep.split("/")[0] == "mscl":
            path = REPO / dep
            found = path.rglob("*.py") if path.is_dir() else [path]
            files |= {str(f.relative_to(REPO).as_posix()) for f in found if f.name != "__init__.py"}
    return files


def test_package_init_files_hold_only_docstrings():
    for init in (REPO / "mscl").rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        assert all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body), init


def test_code_deps_of_every_stage_are_exactly_its_import_closure():
    # a code change must rerun every stage it can affect, and only those
    for name, stage in DVC.items():
        closure, declared = import_closure(REPO / "stages" / f"{name}.py"), _declared_code(stage)
        assert not closure - declared, f"{name}: dvc.yaml deps miss {sorted(closure - declared)}"
        assert not declared - closure, f"{name}: dvc.yaml deps name code the stage never runs: {sorted(declared - closure)}"
