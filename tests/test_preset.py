import subprocess
import sys

import pytest
import yaml

from mscl.params import ParamsError, load_section
from mscl.preset import dataset_sets, format_value, load_preset, set_args

from helpers import REPO


def test_set_args_are_yaml_that_dvc_parses():
    assert format_value(True) == "true" and format_value([0.2, 1.0]) == "[0.2,1.0]" and format_value(["train"]) == "[train]"
    assert format_value("") == "''" and format_value("/data/UCF 101") == "'/data/UCF 101'" and format_value("a/b") == "a/b"
    args = set_args({"pretrain.flow_layout": "paper", "flow.splits": ["train"]})
    assert args == ["-S", "pretrain.flow_layout=paper", "-S", "flow.splits=[train]"]
    for a in args[1::2]:  # what DVC does with the value: YAML
        key, value = a.split("=", 1)
        assert yaml.safe_load(value) in ("paper", ["train"])


def test_the_paper_preset_is_valid_over_the_demo_params():
    sets = load_preset(REPO / "presets/paper.yaml", REPO / "params.yaml")
    assert sets["pretrain.batch_size"] == 128 and sets["pretrain.crop_size"] == 112 and sets["finetune.milestones"] == [14, 18]
    # DCLR's release: the one-block-per-stage R(2+1)D, 16 frames 2 apart, top-5 positives, wrapped D
    dclr = {k.split(".", 1)[1]: v for k, v in sets.items() if k.startswith("pretrain.dclr_")}
    assert dclr == {"dclr_backbone": "r2plus1d_10", "dclr_clip_len": 16, "dclr_stride": 2, "dclr_topk": 5,
                    "dclr_wrap": True}
    done = subprocess.run([sys.executable, "-m", "mscl.preset", "presets/paper.yaml"], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert "-S pretrain.queue_size=65536" in done.stdout and "-S 'finetune.milestones=[14,18]'" in done.stdout


def test_dvc_applies_the_paper_preset_and_the_roots_into_the_papers_datasets(tmp_path):
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` does to params.yaml

    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    roots = {"k400": "/data/kinetics-400", "ucf101": "/data/UCF 101", "hmdb51": "/data/hmdb51"}
    args = set_args(load_preset(REPO / "presets/paper.yaml", params))
    args += set_args({f"datasets.{name}.root": root for name, root in roots.items()})
    apply_overrides(params, args[1::2])
    datasets = load_section(params, "datasets")  # and every other section, with the rules across them
    assert list(datasets) == ["k400", "ucf101", "hmdb51"]  # the demo's are gone
    assert {name: d.root for name, d in datasets.items()} == roots
    assert datasets["ucf101"].splits == (1,) and datasets["k400"].source == "kinetics"
    assert load_section(params, "pretrain").data == "k400"
    assert load_section(params, "evaluation").datasets == ("ucf101", "hmdb51")


def test_a_preset_keeps_a_dataset_it_names_and_replaces_its_keys():
    base = {"motion": {"source": "synthetic", "seed": 0, "speed": 1.0}, "other": {"source": "synthetic", "seed": 1}}
    sets = dataset_sets(base, {"motion": {"source": "folder", "root": "/videos", "seed": 2}})
    assert sets == {"~datasets.other": None, "~datasets.motion.speed": None, "datasets.motion.source": "folder",
                    "+datasets.motion.root": "/videos", "datasets.motion.seed": 2}


def test_a_bad_preset_stops_with_the_key(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump({"pretrain": {"batch_sise": 4}}))
    with pytest.raises(ParamsError, match="did you mean 'batch_size'"):
        load_preset(bad, REPO / "params.yaml")
    bad.write_text(yaml.safe_dump({"pretrian": {"lr": 1.0}}))
    with pytest.raises(ParamsError, match="no params section named 'pretrian'"):
        load_preset(bad, REPO / "params.yaml")
