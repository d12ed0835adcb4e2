"""The finetune, linear and retrieve stages as DVC runs them, on tiny noise videos."""
import json

import numpy as np
import pandas as pd
import pytest

from mscl.io.checkpoint import load_module_state, save_module
from mscl.io.frames import write_frames
from mscl.models.r3d import R3D18

from helpers import run_stage

VIEWS = {"num_frames": 4, "workers": 0, "device": "cpu"}


def _dataset(root, per_class=3, classes=("dark", "bright")):
    """videos.csv (+ one broken video) and data/frames with its manifest; classes differ in brightness."""
    rng = np.random.default_rng(0)
    videos, manifest = [], []
    for label, name in enumerate(classes):
        for i in range(per_class):
            vid = f"{name}/{name}_{i}"
            frames = rng.integers(100 * label, 100 * label + 100, (10, 20, 24, 3), dtype=np.uint8)
            write_frames(root / "frames" / f"{vid}.zip", frames, quality=90, meta={})
            split = "test" if i == 0 else "train"
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


@pytest.mark.slow
def test_downstream_stages_write_their_outputs(tmp_path, write_params):
    _dataset(tmp_path)
    params = write_params({
        "finetune": {**VIEWS, "crop_size": 16, "test_crop_size": 16, "test_clips": 2, "test_crops": 3,
                     "batch_size": 2, "epochs": 2, "milestones": [1]},
        "linear": {**VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4},
        "retrieve": {**VIEWS, "crop_size": 16, "batch_size": 4, "queries": 2, "shown": 3},
    })
    inputs = {"encoder": tmp_path / "encoder.pt", "videos_csv": tmp_path / "videos.csv", "frames_dir": tmp_path / "frames"}
    done = run_stage("finetune", params, **inputs, model_dir=tmp_path / "models/finetune",
                     metrics=tmp_path / "metrics/finetune.json", confusion=tmp_path / "reports/finetune/confusion.png",
                     live_dir=tmp_path / "dvclive/finetune")
    m = json.loads((tmp_path / "metrics/finetune.json").read_text())
    # the metrics file holds what experiments compare; counts and the split are printed
    assert set(m) == {"single_view", "multi_view", "final_train_loss", "multi_view_videos_per_second"}
    assert set(m["multi_view"]) == {"clip_top1", "clip_top5", "video_top1", "video_top5"}
    assert "test_videos 2" in done.stdout and "split test" in done.stdout and "skipped_videos 1" in done.stdout
    _, sidecar = load_module_state(tmp_path / "models/finetune/classifier.pt")
    assert sidecar["classes"] == ["dark", "bright"] and sidecar["encoder"]["width"] == 4
    curve = pd.read_csv(tmp_path / "dvclive/finetune/plots/metrics/train/loss.tsv", sep="\t")
    assert list(curve["step"]) == [0, 1]
    assert (tmp_path / "reports/finetune/confusion.png").stat().st_size > 0

    done = run_stage("linear", params, **inputs, metrics=tmp_path / "metrics/linear.json")
    assert "train_videos 4" in done.stdout
    assert set(json.loads((tmp_path / "metrics/linear.json").read_text())) == {
        "clip_top1", "clip_top5", "video_top1", "video_top5", "videos_per_second"}

    run_stage("retrieve", params, **inputs, metrics=tmp_path / "metrics/retrieval.json",
              picture=tmp_path / "reports/retrieve/neighbours.png")
    r = json.loads((tmp_path / "metrics/retrieval.json").read_text())
    assert list(r) == ["R@1", "R@5", "R@10", "R@20", "R@50", "videos_per_second"] and r["R@50"] == 100.0
    assert (tmp_path / "reports/retrieve/neighbours.png").stat().st_size > 0


@pytest.mark.slow
def test_bad_params_stop_before_any_work(tmp_path, write_params):
    params = write_params({"retrieve": {"crops": 2}})
    r = run_stage("retrieve", params, encoder=tmp_path / "e.pt", videos_csv=tmp_path / "v.csv", frames_dir=tmp_path / "frames",
                  metrics=tmp_path / "m.json", picture=tmp_path / "n.png", check=False)
    assert r.returncode != 0 and "retrieve.crops = 2 is not one of [1, 3]" in r.stderr
    assert not (tmp_path / "m.json").exists()
