"""Tiny pipeline inputs: params and the real index, frames, flow and screen stages run on them."""
from __future__ import annotations

from pathlib import Path

import yaml

from helpers import REPO, run_stage

# every synthetic dataset of params.yaml gets DATA: 3 videos per class, one each in train, val and test
DATA = {"videos_per_class": 3, "num_frames": 12, "height": 32, "width": 40, "test_fraction": 0.34, "val_fraction": 0.33}
TINY = {
    "frames": {"short_side": 32, "workers": 1, "min_frames": 8},
    "flow": {"offset": 2, "step": 1, "workers": 1, "scales": 2, "warps": 2, "outer_iterations": 3,
             "inner_iterations": 10, "pictures": 1, "splits": ["train", "val"]},
    "screen": {"clip_len": 4, "stride": 1, "block": 8, "device": "cpu"},
    "pretrain": {"width": 4, "flow_width": 4, "crop_size": 16, "clip_len": 4, "interval": 2, "batch_size": 4,
                 "epochs": 3, "queue_size": 16, "workers": 0, "checkpoint_every": 2, "log_every": 1, "device": "cpu",
                 "warmup_epochs": 1.0},
}

_VIEWS = {"device": "cpu", "workers": 0, "num_frames": 4, "crop_size": 16, "batch_size": 4}
# a whole tiny project (over TINY): one pretraining epoch and the evaluation stages as small
PROJECT = {
    "pretrain": {"epochs": 1},
    "finetune": {**_VIEWS, "test_crop_size": 16, "test_clips": 1, "test_crops": 1, "epochs": 1, "milestones": [1]},
    "linear": {**_VIEWS, "epochs": 2, "probe_batch": 4},
    "retrieve": {**_VIEWS, "queries": 2, "shown": 2},
}


def tiny_params(path: Path, overrides: dict | None = None) -> Path:
    """The repository's params.yaml with DATA, TINY and then ``overrides`` applied (``datasets``:
    {name: values} updates the named dataset, or adds it)."""
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for entry in doc["datasets"].values():
        if entry["source"] == "synthetic":
            entry.update(DATA)
    for layer in (TINY, overrides or {}):
        for section, values in layer.items():
            if section == "datasets":
                for name, entry in values.items():
                    doc["datasets"].setdefault(name, {}).update(entry)
            else:
                doc[section].update(values)
    path.write_text(yaml.safe_dump(doc))
    return path


def make_inputs(root: Path, overrides: dict | None = None) -> Path:
    """Run the stages before pretrain on tiny data (TINY, then ``overrides``) under ``root``, for the
    pretraining set (``pretrain.data``); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    params = tiny_params(root / "params.yaml", overrides)
    d = root / "data"
    videos = d / "index/videos.csv"
    dataset = yaml.safe_load(params.read_text())["pretrain"]["data"]
    run_stage("index", params, dataset=dataset, videos_csv=videos, raw_dir=d / "raw", log=root / "logs/index.json")
    run_stage("frames", params, videos_csv=videos, out_dir=d / "frames", log=root / "logs/frames.json")
    run_stage("flow", params, videos_csv=videos, frames_dir=d / "frames", out_dir=d / "flow",
              pictures_dir=root / "reports/flow", log=root / "logs/flow.json")
    run_stage("screen", params, videos_csv=videos, flow_dir=d / "flow", samples_csv=d / "samples/pretrain.csv",
              pictures_dir=root / "reports/screen", log=root / "logs/screen.json")
    return root


def pretrain_paths(inputs: Path, out: Path) -> dict:
    """The pretrain stage's paths, reading ``inputs`` (also as the monitor's set) and writing under ``out``."""
    d = inputs / "data"
    return {"videos_csv": d / "index/videos.csv", "frames_dir": d / "frames", "flow_dir": d / "flow",
            "samples_csv": d / "samples/pretrain.csv", "monitor_videos_csv": d / "index/videos.csv",
            "monitor_frames_dir": d / "frames", "model_dir": out / "model", "live_dir": out / "live",
            "metrics": out / "metrics.json"}
