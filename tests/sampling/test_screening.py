import json

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mscl.flow.motion import frame_differential_scores
from mscl.io.flow_files import FlowReader, write_flow
from mscl.params import ScreenParams
from mscl.sampling.mds import motion_differential_sampling
from mscl.sampling.screening import SAMPLE_COLUMNS, plot_screen_scores, screen_video, screen_videos, video_frame_scores

from helpers import run_stage

CPU = torch.device("cpu")
P = ScreenParams(block=8, clip_len=3, stride=2, device="cpu")


def swirling_flow(T: int, *, still: int = 0, size: int = 32, seed: int = 0) -> np.ndarray:
    """(T, H, W, 2) flow: zero for the first ``still`` frames, then a square whose motion turns
    by a random angle every frame (large frame differences)."""
    rng = np.random.default_rng(seed)
    flow = np.zeros((T, size, size, 2), np.float32)
    for j in range(still, T):
        a = rng.uniform(0, 2 * np.pi)
        flow[j, 8:24, 8:24] = 6 * np.cos(a), 6 * np.sin(a)
    return flow


def write(path, flow):
    write_flow(path, flow, bound=20.0, meta={"offset": 8, "step": 2})
    return path


def test_chunked_scores_equal_scoring_the_whole_video(tmp_path):
    path = write(tmp_path / "v.zip", swirling_flow(11, still=3))
    with FlowReader(path) as r:
        whole = torch.from_numpy(r.read(range(len(r)))).permute(0, 3, 1, 2)   # (T, 2, H, W)
        expected = frame_differential_scores(whole, 8).double().numpy()
        for chunk in (1, 3, 10, 64):
            np.testing.assert_allclose(video_frame_scores(r, block=8, device=CPU, chunk=chunk), expected, rtol=1e-6)
    assert expected[:2].max() == 0 and expected[3:-1].min() > 0


def test_static_video_keeps_nothing_and_moving_part_is_kept(tmp_path):
    c, kept = screen_video(write(tmp_path / "static.zip", np.zeros((12, 32, 32, 2), np.float32)), P, CPU)
    assert c.shape == (12,) and not c.any() and kept.size == 0
    # first 10 flows still, last 10 moving: s_j > 0 from j = 9 (flow 9 differs from flow 10), so
    # only starts whose clip (i, i+2, i+4) reaches index 9 can score
    c, kept = screen_video(write(tmp_path / "moving.zip", swirling_flow(20, still=10)), P, CPU)
    np.testing.assert_array_equal(kept, motion_differential_sampling(c))
    first = 9 - P.stride * (P.clip_len - 1)
    assert kept.size > 0 and kept.min() >= first and c[:first].max() == 0 and c[first] > 0


def test_disabled_screening_keeps_every_start(tmp_path):
    path = write(tmp_path / "moving.zip", swirling_flow(9, still=4))
    c, kept = screen_video(path, ScreenParams(enabled=False, block=8, clip_len=3, stride=2, device="cpu"), CPU)
    np.testing.assert_array_equal(kept, np.arange(9))
    np.testing.assert_array_equal(c, screen_video(path, P, CPU)[0])


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
    r = run_stage("screen", params, tmp_path / "videos.csv", flow_dir, out / "samples/pretrain.csv", out / "reports",
                  out / "metrics.json")
    samples = pd.read_csv(out / "samples/pretrain.csv", dtype={"video_id": str})
    assert samples["kept"].dtype == bool and len(samples) == 25
    assert (out / "reports/scores.png").stat().st_size > 0
    assert json.loads((out / "metrics.json").read_text())["videos"] == 3
    assert "3 videos" in r.stdout and "c/gone" in r.stderr


def test_scores_and_kept_starts_of_a_stored_video_worked_by_hand(tmp_path):
    # the moving squares of tests/flow/test_motion.py at 19 px (stored as uint8 within +-20 px,
    # the still background dequantises to 0.08 px: under 1% of the largest vector)
    flow = np.zeros((4, 8, 8, 2), np.float32)
    flow[0, 2:6, 2:6, 0] = -19.0
    flow[1, 4:8, 4:8, 0] = -19.0
    flow[2:, 4:8, 4:8, 1] = 19.0
    s = [24 * np.hypot(255, 46) / 64, 16 * np.sqrt(255**2 + 20.5**2 + 255**2) / 64, 0.0, 0.0]
    # clips of 2 flows 1 apart: c_i = (s_i + s_{i+1}) / 2, the last one (s_3 + nothing) / 2
    c_hand = [(s[0] + s[1]) / 2, (s[1] + s[2]) / 2, (s[2] + s[3]) / 2, s[3] / 2]
    c, kept = screen_video(write(tmp_path / "squares.zip", flow), ScreenParams(block=8, clip_len=2, stride=1), CPU)
    np.testing.assert_allclose(c, c_hand, rtol=0.02, atol=0.5)
    assert kept.tolist() == [0, 1]  # above the median (s_1 / 4)
