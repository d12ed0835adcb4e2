"""Presets, grids and experiment keys."""
import pytest
import yaml

from mscl.bench.grid import EVAL_SPLIT, experiment_key, grid, load_preset, overrides, select

from helpers import REPO

PRESET = {
    "version": 1,
    "dataset": "motion",
    "references": ["random"],
    "params": {"pretrain": {"seed": "{seed}", "epochs": 5, "crop_scale": [0.2, 1.0]}, "flow": {"splits": ["train"]}},
    "seeds": [0, 1],
    "arms": {"mscl": {"pretrain.method": "mscl"}, "random": {"evaluation.init": "random", "pretrain.epochs": 1}},
}
PARAMS = {"pretrain": {"seed": 0, "epochs": 40}, "evaluation": {"init": "pretrained", "split": "test"}}


def preset(tmp_path, doc=PRESET, name="tiny"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_preset(path)


def test_grid_applies_base_then_arm_values_the_seed_and_the_val_split(tmp_path):
    exps = grid(preset(tmp_path), PARAMS)
    assert [(e.arm, e.seed) for e in exps] == [("mscl", 0), ("mscl", 1), ("random", 0), ("random", 1)]
    assert exps[1].sets == {"pretrain.seed": 1, "pretrain.epochs": 5, "pretrain.crop_scale": [0.2, 1.0],
                            "flow.splits": ["train"], "pretrain.method": "mscl", EVAL_SPLIT: "val"}
    assert exps[2].sets["pretrain.epochs"] == 1 and exps[2].sets["evaluation.init"] == "random"
    assert exps[0].name == f"tiny-mscl-s0-{exps[0].key}" and exps[0].test_name == exps[0].name + "-test"
    assert len({e.key for e in exps}) == 4


def test_the_key_changes_with_the_preset_values_params_yaml_and_the_version_but_not_with_comments(tmp_path):
    e = grid(preset(tmp_path), PARAMS)[0]
    assert e.key == experiment_key(1, e.sets, PARAMS)
    assert experiment_key(2, e.sets, PARAMS) != e.key  # the benchmark's code version
    assert experiment_key(1, {**e.sets, "pretrain.lr": 0.01}, PARAMS) != e.key  # a preset value
    assert experiment_key(1, e.sets, {**PARAMS, "pretrain": {"seed": 0, "epochs": 41}}) != e.key  # a params.yaml default
    commented = yaml.safe_load("pretrain: {seed: 0, epochs: 40}  # a comment\nevaluation: {init: pretrained, split: test}")
    assert experiment_key(1, e.sets, commented) == e.key


def test_two_presets_name_their_experiments_and_files_apart(tmp_path):
    a, b = preset(tmp_path, name="motion"), preset(tmp_path, name="families")
    names_a, names_b = {e.name for e in grid(a, PARAMS)}, {e.name for e in grid(b, PARAMS)}
    assert not names_a & names_b and all(n.startswith("motion-") for n in names_a)
    assert a.results != b.results and a.times != b.times and a.results.name == "motion.json"


def test_overrides_add_what_params_yaml_lacks():
    """A preset's own named dataset is added with Hydra's `+`; existing keys are set as they are."""
    sets = {"pretrain.epochs": 5, "datasets.layers.family": "layers", "pretrain.data": "layers", "evaluation.split": "val"}
    assert overrides(sets, PARAMS) == {"pretrain.epochs": 5, "+datasets.layers.family": "layers",
                                       "+pretrain.data": "layers", "evaluation.split": "val"}
    assert overrides({"pretrain.seed.x": 1}, PARAMS) == {"+pretrain.seed.x": 1}  # below a value: no such key either


def test_per_arm_seeds_and_select(tmp_path):
    exps = grid(preset(tmp_path, {**PRESET, "arm_seeds": {"mscl": [0, 1, 2]}}), PARAMS)
    assert [(e.arm, e.seed) for e in exps] == [("mscl", 0), ("mscl", 1), ("mscl", 2), ("random", 0), ("random", 1)]
    assert [(e.arm, e.seed) for e in select(exps, ["random"], [1])] == [("random", 1)]
    assert select(exps) == exps
    with pytest.raises(ValueError, match=r"no arm \['moco'\]"):
        select(exps, ["moco"])
    with pytest.raises(ValueError, match=r"no seed \[7\]"):
        select(exps, seeds=[7])


@pytest.mark.parametrize("change, message", [
    ({"arms": {}}, "lists no arms"),
    ({"version": None}, "integer `version`"),
    ({"dataset": None}, "needs the `dataset`"),
    ({"references": ["moco"]}, "'moco' is not an arm"),
    ({"arm_seeds": {"dclr": [0]}}, "'dclr' is not an arm"),
])
def test_a_malformed_preset_is_refused(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        preset(tmp_path, {**PRESET, **change})


@pytest.mark.parametrize("path", sorted((REPO / "benchmarks").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_preset_is_a_valid_grid_with_statistical_power(path, tmp_path):
    """Every experiment's params pass the whole validation (each section and the rules across them),
    the grid has at least 5 seeds per arm and the references, and its dataset has 200 train, val and
    test videos."""
    from mscl.bench.run import apply_sets
    from mscl.params import load_all

    p = load_preset(path)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(p.references) == {"moco-rgb", "random-init"} and all(len(s) >= 5 for s in p.seeds.values())
    for e in grid(p, base):
        doc = apply_sets(yaml.safe_load((REPO / "params.yaml").read_text()), e.sets)
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
        sections = load_all(tmp_path / "params.yaml")
        assert sections["pretrain"].data == sections["pretrain"].monitor == p.dataset
    data = sections["datasets"][p.dataset]
    from collections import Counter

    from mscl.io.tables import split_of
    from mscl.synthetic import FAMILIES

    counts = Counter(split_of(i, data.test_fraction, data.val_fraction) for i in range(data.videos_per_class))
    assert {s: n * len(FAMILIES[data.family]) for s, n in counts.items()} == {"train": 200, "val": 200, "test": 200}
