"""Tiny pipeline inputs: params and the real index, frames, flow and screen stages run on them."""
from __future__ import annotations

from pathlib import Path

import yaml

from helpers import REPO, run_stage

TINY = {
    "index": {"videos_per_class": 2, "num_frames": 12, "height": 32, "width": 40, "test_fraction": 0.5},
    "frames": {"short_side": 32, "workers": 1, "min_frames": 8},
    "flow": {"offset": 2, "step": 1, "workers": 1, "scales": 2, "warps": 2, "outer_iterations": 3,
             "inner_iterations": 10, "pictures": 1, "splits": ["train"]},
    "screen": {"clip_len": 4, "stride": 1, "block": 8, "device": "cpu"},
    "pretrain": {"width": 4, "flow_width": 4, "crop_size": 16, "clip_len": 4, "interval": 2, "batch_size": 4,
                 "epochs": 3, "queue_size": 16, "workers": 0, "checkpoint_every": 2, "log_every": 1, "device": "cpu",
                 "warmup_epochs": 1.0},
}


def tiny_params(path: Path, overrides: dict | None = None) -> Path:
    """The repository's params.yaml with TINY and then ``overrides`` applied."""
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for layer in (TINY, overrides or {}):
        for section, values in layer.items():
            doc[section].update(values)
    path.write_text(yaml.safe_dump(doc))
    return path


def make_inputs(root: Path) -> Path:
    """Run the stages before pretrain on tiny data under ``root``; returns ``root``."""
    params = tiny_params(root / "params.yaml")
    d = root / "data"
    run_stage("index", params, d / "index/videos.csv", d / "raw", root / "logs/index.json")
    run_stage("frames", params, d / "index/videos.csv", d / "frames", root / "logs/frames.json")
    run_stage("flow", params, d / "index/videos.csv", d / "frames", d / "flow", root / "reports/flow", root / "logs/flow.json")
    run_stage("screen", params, d / "index/videos.csv", d / "flow", d / "samples/pretrain.csv", root / "reports/screen",
              root / "logs/screen.json")
    return root


def pretrain_args(inputs: Path, params: Path, out: Path) -> list:
    """argv of the pretrain stage reading ``inputs`` and writing under ``out``."""
    d = inputs / "data"
    return [params, d / "index/videos.csv", d / "frames", d / "flow", d / "samples/pretrain.csv", out / "model",
            out / "live", out / "metrics.json"]
