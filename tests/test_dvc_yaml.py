"""dvc.yaml, stages/ and params.yaml agree (style rule 15)."""
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
        for extra in params[1:]:  # single keys of an earlier stage's section, e.g. flow.step
            section, key = extra.split(".")
            assert section in DVC and key in PARAMS[section], f"{name}: params entry {extra} does not exist"


def test_every_path_in_cmd_is_declared():
    for name, stage in DVC.items():
        words = shlex.split(stage["cmd"])
        assert words[:2] == ["python", f"stages/{name}.py"], name
        declared = _declared(stage)
        for word in words[1:]:
            inside = any(word == d or word.startswith(d.rstrip("/") + "/") for d in declared)
            assert word == "params.yaml" or inside, f"{name}: {word} is in cmd but not in deps/outs"


def test_data_deps_come_from_earlier_stages_and_code_deps_exist():
    produced = set()
    for name, stage in DVC.items():
        for dep in _paths(stage.get("deps")):
            from_earlier = any(dep == out or dep.startswith(out.rstrip("/") + "/") for out in produced)
            assert from_earlier or (REPO / dep).exists(), f"{name}: dep {dep} is neither code nor an earlier output"
        produced |= _paths(stage.get("outs")) | _paths(stage.get("metrics")) | _paths(stage.get("plots"))
