"""Inputs of the stages: the tiny pretraining inputs (made once per session) and a labelled set
for the evaluation stages."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscl.io.checkpoint import save_module
from mscl.io.frames import write_frames
from mscl.models.r3d import R3D18

from tiny_pipeline import make_inputs


@pytest.fixture(scope="session")
def pretrain_inputs(tmp_path_factory) -> Path:
    """A folder with params.yaml, data/index, data/frames, data/flow and data/samples."""
    return make_inputs(tmp_path_factory.mktemp("pretrain_inputs"))


def _dataset(root, per_class=4, classes=("dark", "bright")):
    """videos.csv (+ one broken video) and data/frames with its manifest; classes differ in
    brightness. Per class: video 0 test, video 3 val, the others train."""
    rng = np.random.default_rng(0)
    videos, manifest = [], []
    for label, name in enumerate(classes):
        for i in range(per_class):
            vid = f"{name}/{name}_{i}"
            frames = rng.integers(100 * label, 100 * label + 100, (10, 20, 24, 3), dtype=np.uint8)
            write_frames(root / "frames" / f"{vid}.zip", frames, quality=90, meta={})
            split = {0: "test", 3: "val"}.get(i, "train")
            videos.append({"video_id": vid, "path": f"raw/{vid}.mp4", "label": label, "label_name": name,
                           "split": split})
            manifest.append({"video_id": vid, "frames": f"{vid}.zip", "num_frames": 10, "height": 20, "width": 24,
                             "fps": 25.0, "status": "ok", "reason": ""})
    videos.append({"video_id": "bad", "path": "raw/bad.mp4", "label": 0, "label_name": "dark", "split": "train"})
    manifest.append({"video_id": "bad", "frames": "", "num_frames": 0, "height": 0, "width": 0, "fps": 0.0,
                     "status": "empty", "reason": "zero bytes"})
    pd.DataFrame(videos).to_csv(root / "videos.csv", index=False)
    pd.DataFrame(manifest).to_csv(root / "frames" / "manifest.csv", index=False)
    save_module(root / "encoder.pt", R3D18(width=4), {"backbone": "r3d_18", "width": 4, "method": "mscl", "params": {}})


@pytest.fixture
def labelled_inputs(tmp_path) -> dict:
    """The evaluation stages' input paths: a width-4 encoder, the index and frames of 8 videos of
    two classes (one test and one val video each) plus a broken one."""
    _dataset(tmp_path)
    return {"encoder": tmp_path / "encoder.pt", "videos_csv": tmp_path / "videos.csv", "frames_dir": tmp_path / "frames"}
