import subprocess
import sys

import pytest
import yaml

from mscl.params import ParamsError
from mscl.preset import format_value, load_preset, set_args

from helpers import REPO


def test_set_args_are_yaml_that_dvc_parses():
    assert format_value(True) == "true" and format_value([0.2, 1.0]) == "[0.2,1.0]" and format_value(["train"]) == "[train]"
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


def test_a_bad_preset_stops_with_the_key(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump({"pretrain": {"batch_sise": 4}}))
    with pytest.raises(ParamsError, match="did you mean 'batch_size'"):
        load_preset(bad, REPO / "params.yaml")
    bad.write_text(yaml.safe_dump({"pretrian": {"lr": 1.0}}))
    with pytest.raises(ParamsError, match="no params section named 'pretrian'"):
        load_preset(bad, REPO / "params.yaml")
