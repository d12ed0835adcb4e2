"""dvc.yaml, stages/ and params.yaml agree, for every stage DVC generates from params.yaml."""
import ast
import importlib
import re
import shlex

import yaml

from helpers import REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def _lookup(context: dict, dotted: str):
    for key in dotted.split("."):
        context = context[key]
    return context


def _interpolate(node, context: dict):
    """``node`` (yaml data) with every ``${a.b}`` replaced by its value in ``context``, as DVC does."""
    if isinstance(node, dict):
        return {_interpolate(k, context): _interpolate(v, context) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, context) for v in node]
    if isinstance(node, str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(context, m.group(1).strip())), node)
    return node


def resolved_stages(dvc_yaml: dict, params: dict) -> dict:
    """{(group, stage name): stage}: a ``foreach`` group gives ``group@key`` per item (``key``
    and ``item`` in its templates), a plain stage itself; ``${section.key}`` from ``params``."""
    out = {}
    for group, stage in dvc_yaml["stages"].items():
        if "foreach" not in stage:
            out[(group, group)] = _interpolate(stage, params)
            continue
        items = _lookup(params, re.fullmatch(r"\$\{(.+)\}", stage["foreach"]).group(1))  # e.g. ${datasets}
        pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
        for key, item in pairs:
            out[(group, f"{group}@{key}")] = _interpolate(stage["do"], {**params, "key": key, "item": item})
    return out


STAGES = resolved_stages(yaml.safe_load((REPO / "dvc.yaml").read_text()), PARAMS)
DVC = {name: stage for (_, name), stage in STAGES.items()}
GROUP = {name: group for (group, name) in STAGES}


def test_dvc_generates_a_stage_per_dataset_and_role():
    names = set(DVC)
    for d in PARAMS["datasets"]:
        assert {f"index@{d}", f"frames@{d}"} <= names, d
    for d in PARAMS["evaluation"]["datasets"]:
        assert {f"finetune@{d}", f"linear@{d}", f"retrieve@{d}"} <= names, d
    assert {"flow", "screen", "pretrain"} <= names
    data = PARAMS["pretrain"]["data"]
    assert DVC["flow"]["outs"][0] == {f"data/{data}/flow": {"persist": True}}


def _paths(entries):
    return {e if isinstance(e, str) else next(iter(e)) for e in entries or []}


def _declared(stage):
    return _paths(stage.get("deps")) | _paths(stage.get("outs")) | _paths(stage.get("metrics")) | _paths(stage.get("plots"))


def test_every_stage_has_its_script_and_params_section():
    for name, stage in DVC.items():
        group = GROUP[name]
        assert (REPO / "stages" / f"{group}.py").is_file(), name
        params = stage.get("params")
        # index reads its own dataset's entry, the others their section of the same name
        own = f"datasets.{name.split('@')[1]}" if group == "index" else group
        assert params[0] == own, f"{name}: list the whole '{own}' section under params"
        _lookup(PARAMS, own)
        for extra in params[1:]:  # single keys of another section, e.g. flow.step, evaluation.init
            section, key = extra.split(".")
            assert section in PARAMS and key in PARAMS[section], f"{name}: params entry {extra} does not exist"


def _cmd_options(stage) -> dict[str, str]:
    words = shlex.split(stage["cmd"])
    assert len(words) % 2 == 0 and all(w.startswith("--") for w in words[2::2]), words
    return {w[2:].replace("-", "_"): v for w, v in zip(words[2::2], words[3::2])}


def test_every_cmd_names_the_stage_paths_once_and_declares_them():
    for name, stage in DVC.items():
        group = GROUP[name]
        words = shlex.split(stage["cmd"])
        assert words[:2] == ["python", f"stages/{group}.py"], name
        options = _cmd_options(stage)
        paths = importlib.import_module(f"mscl.pipeline.{group}").PATHS
        names = ["params", "dataset"] if group == "index" else ["params"]
        assert list(options) == [*names, *paths], f"{name}: cmd options differ from mscl.pipeline.{group}.PATHS"
        assert options["params"] == "params.yaml"
        assert options.get("dataset", name.split("@")[-1]) == name.split("@")[-1], name
        declared = _declared(stage)
        for option, word in options.items():
            inside = any(word == d or word.startswith(d.rstrip("/") + "/") for d in declared)
            holds = any(d.startswith(word.rstrip("/") + "/") for d in declared)  # a folder of declared outputs
            assert option in names or inside or holds, f"{name}: {word} is in cmd but not in deps/outs"
            assert paths.get(option, "input").split(":")[0] in ("input", "output"), (name, option)


def test_every_output_is_kept_per_dataset():
    for name, stage in DVC.items():
        dataset = {"flow": PARAMS["pretrain"]["data"], "screen": PARAMS["pretrain"]["data"]}.get(name, name.split("@")[-1])
        outputs = _paths(stage.get("outs")) | _paths(stage.get("metrics")) | _paths(stage.get("plots"))
        for out in outputs:
            top, second = out.split("/")[:2]
            assert name == "pretrain" or second == dataset, f"{name}: output {out} is not under <kind>/{dataset}/"


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
        closure, declared = import_closure(REPO / "stages" / f"{GROUP[name]}.py"), _declared_code(stage)
        assert not closure - declared, f"{name}: dvc.yaml deps miss {sorted(closure - declared)}"
        assert not declared - closure, f"{name}: dvc.yaml deps name code the stage never runs: {sorted(declared - closure)}"
