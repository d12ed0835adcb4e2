import json

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mscl.params import ScreenParams, default
from mscl.pipeline.screen import SAMPLE_COLUMNS, plot_screen_scores, screen_videos
from mscl.sampling.screening import screen_video

from helpers import run_stage, swirling_flow, write_test_flow as write

CPU = torch.device("cpu")
P = default(ScreenParams, block=8, clip_len=3, stride=2, device="cpu")


@pytest.fixture
def screened_inputs(tmp_path):
    """Index of five videos: static, two moving, one without usable flow, one missing container."""
    flows = {"a/static": np.zeros((8, 32, 32, 2), np.float32), "b/move0": swirling_flow(10, seed=1),
             "b/move1": swirling_flow(7, still=2, seed=2)}
    for vid, f in flows.items():
        write(tmp_path / "flow" / f"{vid}.zip", f)
    videos = pd.DataFrame({"video_id": ["a/static", "b/move0", "b/move1", "a/short", "c/gone"],
                           "path": "", "label": [0, 1, 1, 0, 2], "label_name": ["a", "b", "b", "a", "c"],
                           "split": ["train", "train", "test", "train", "train"]})
    manifest = pd.DataFrame({"video_id": ["a/static", "b/move0", "b/move1", "a/short", "c/gone"],
                             "flow": ["a/static.zip", "b/move0.zip", "b/move1.zip", "", "c/gone.zip"],
                             "num_flows": [8, 10, 7, 0, 5], "height": 32, "width": 32, "clipped": 0.0,
                             "status": ["ok", "ok", "ok", "too_short", "ok"], "reason": ""})
    return videos, manifest, tmp_path / "flow"


def test_screen_videos_table_and_metrics(screened_inputs, caplog):
    videos, manifest, flow_dir = screened_inputs
    samples, m = screen_videos(videos, manifest, flow_dir, P)
    assert list(samples.columns) == SAMPLE_COLUMNS
    assert samples.groupby("video_id", sort=False).size().to_dict() == {"a/static": 8, "b/move0": 10, "b/move1": 7}
    for vid, rows in samples.groupby("video_id"):
        c, kept = screen_video(flow_dir / f"{vid}.zip", P, CPU)
        np.testing.assert_array_equal(rows["start"], np.arange(len(c)))
        np.testing.assert_allclose(rows["score"], c)
        np.testing.assert_array_equal(np.flatnonzero(rows["kept"]), kept)
    assert samples.set_index("video_id").loc["b/move1", "split"].eq("test").all()
    kept_b = int(samples.loc[samples["label"] == 1, "kept"].sum())
    assert kept_b > 0
    assert m["videos"] == 3 and m["skipped"] == 1 and m["unreadable"] == 1 and "c/gone" in caplog.text
    assert m["candidates"] == 25 and m["kept"] == kept_b and m["kept_fraction"] == round(kept_b / 25, 4)
    assert m["videos_without_kept"] == 1
    assert m["kept_per_class"] == {"a": 0, "b": kept_b, "c": 0}


def test_picture_of_scores(screened_inputs, tmp_path):
    videos, manifest, flow_dir = screened_inputs
    samples, _ = screen_videos(videos, manifest, flow_dir, P)
    plot_screen_scores(samples, videos, tmp_path / "pics" / "scores.png")
    img = cv2.imread(str(tmp_path / "pics" / "scores.png"))
    assert img.shape == (450, 1500, 3) and img.std() > 10
    # a table where every score is equal still draws (no histogram range)
    plot_screen_scores(samples.assign(score=0.0), videos, tmp_path / "flat.png")
    assert (tmp_path / "flat.png").stat().st_size > 0


@pytest.mark.slow
def test_stage_writes_samples_picture_and_metrics(screened_inputs, tmp_path, write_params):
    videos, manifest, flow_dir = screened_inputs
    videos.to_csv(tmp_path / "videos.csv", index=False)
    manifest.to_csv(flow_dir / "manifest.csv", index=False)
    params = write_params({"screen": {"block": 8, "clip_len": 3, "stride": 2, "device": "cpu"}})
    out = tmp_path / "out"
    r = run_stage("screen", params, videos_csv=tmp_path / "videos.csv", flow_dir=flow_dir,
                  samples_csv=out / "samples/pretrain.csv", pictures_dir=out / "reports", log=out / "metrics.json")
    samples = pd.read_csv(out / "samples/pretrain.csv", dtype={"video_id": str})
    assert samples["kept"].dtype == bool and len(samples) == 25
    assert (out / "reports/scores.png").stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["videos"] == 3
    assert "3 videos" in r.stdout and "c/gone" in r.stderr
