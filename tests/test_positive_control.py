"""benchmarks/positive_control.py: the supervised control run of a benchmark family and its table."""
import importlib.util
import json

import pytest
import yaml

from mscl.bench.grid import grid, load_preset

from helpers import REPO

_spec = importlib.util.spec_from_file_location("positive_control", REPO / "benchmarks/positive_control.py")
control = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(control)

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.mark.parametrize("preset", ["layers", "relative", "motion"])
def test_a_control_run_is_the_random_init_arm_trained_with_labels_on_the_benchmarks_data(preset):
    p = load_preset(REPO / f"benchmarks/{preset}.yaml")
    arm = next(e for e in grid(p, PARAMS) if e.arm == "random-init" and e.seed == 0)
    sets = control.control_sets(arm.sets, "lr0.001-fp32", 40, 30, 0)
    assert {k: v for k, v in sets.items() if k in arm.sets} == arm.sets  # the arm's data, size and split
    assert sets["evaluation.init"] == "random" and sets["evaluation.split"] == "val"
    assert (sets["finetune.epochs"], sets["finetune.milestones"], sets["finetune.lr"]) == (40, [30], 0.001)
    assert sets["finetune.bf16"] is False and sets["finetune.dropout"] == 0.0
    assert not {"finetune.lr", "finetune.bf16"} & set(control.control_sets(arm.sets, "defaults", 40, 30, 0))
    with pytest.raises(SystemExit, match="--milestone 40"):
        control.control_sets(arm.sets, "defaults", 40, 40, 0)


def _node(name, dataset, family, top1, loss):
    params = {"pretrain": {"data": dataset}, "datasets": {dataset: {"family": family}}, "evaluation": {"split": "val"}}
    metrics = {f"metrics/{dataset}/finetune.json": {"data": {"single_view": {"video_top1": top1}, "final_train_loss": loss}}}
    return {"revs": [{"rev": name, "name": name, "data": {"timestamp": "t", "params": {"params.yaml": {"data": params}},
                                                          "metrics": metrics}}]}


def test_the_table_has_one_row_per_finished_control_and_nothing_else():
    shown = [{"rev": "c", "name": None, "data": {}, "experiments": [
        _node("control-relative-lr0.001-fp32-e120-s0", "relative", "relative", 61.5, 0.2),
        _node("control-relative-defaults-e40-s0", "relative", "relative", 23.0, 1.3626),
        _node("control-motion-lr0.001-fp32-e40-s0", "motion", "direction", 18.5, 1.75),
        _node("relative-mscl-s0-9f0ce213", "relative", "relative", 25.0, 1.0),  # not a control
        {"revs": [{"rev": "x", "name": "control-relative-defaults-e40-s1", "data": {"timestamp": "t"}}]}]}]  # unfinished
    rows = control.rows(json.loads(json.dumps(shown)))
    assert rows == [["motion", "direction", "lr0.001-fp32", 40, 0, "val", 18.5, 1.75],
                    ["relative", "relative", "defaults", 40, 0, "val", 23.0, 1.3626],
                    ["relative", "relative", "lr0.001-fp32", 120, 0, "val", 61.5, 0.2]]
