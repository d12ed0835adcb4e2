"""OpenCV TV-L1 backend and the shared RGB -> gray conversion."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from mscl.flow.tvl1 import opencv_tvl1, to_gray, tvl1_pairs_opencv
from mscl.params import FlowParams, datasets_from_dict, default
from mscl.synthetic import FAMILIES, render_video, true_flow, video_scene

from helpers import REPO

MARGIN = 8
# Interior mean EPE vs truth, measured with default params on the 64 x 64 wave texture:
# 0.031 - 0.037 px for each motion; the bound leaves room for other OpenCV builds.
SYNTHETIC_EPE = 0.1
# On the H.264-compressed photograph pan: 0.13 - 0.18 px (compression noise dominates).
REAL_EPE = 0.3


def test_to_gray_matches_cv2_on_numpy_and_torch():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 50, 60, 3), dtype=np.uint8)
    rgb[0, 0, :4] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]
    expected = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])
    np.testing.assert_array_equal(to_gray(rgb), expected)
    from_torch = to_gray(torch.from_numpy(rgb))
    assert from_torch.dtype == torch.uint8
    np.testing.assert_array_equal(from_torch.numpy(), expected)


def test_opencv_tvl1_sets_every_param():
    p = default(FlowParams, tau=0.2, lambda_=0.1, theta=0.4, scales=3, warps=2, epsilon=0.02, inner_iterations=7,
                   outer_iterations=4, scale_step=0.6, gamma=0.05, median_filtering=3)
    s = opencv_tvl1(p)
    got = (s.getTau(), s.getLambda(), s.getTheta(), s.getScalesNumber(), s.getWarpingsNumber(), s.getEpsilon(),
           s.getInnerIterations(), s.getOuterIterations(), s.getScaleStep(), s.getGamma(), s.getMedianFiltering())
    assert got == pytest.approx((0.2, 0.1, 0.4, 3, 2, 0.02, 7, 4, 0.6, 0.05, 3))
    assert not s.getUseInitialFlow()


@pytest.mark.parametrize("name", ["translation", "rotation", "zoom"])
def test_opencv_recovers_known_motion(motion_pairs, flow_epe, name):
    gray, truth = motion_pairs[name]
    flow = tvl1_pairs_opencv(gray, [(0, 1)], default(FlowParams))
    assert flow.shape == (1, 64, 64, 2) and flow.dtype == np.float32
    assert flow_epe(flow[0], truth, MARGIN) < SYNTHETIC_EPE


def test_opencv_static_pair_gives_zero_flow(motion_pairs):
    gray, _ = motion_pairs["static"]
    assert np.abs(tvl1_pairs_opencv(gray, [(0, 1)], default(FlowParams))).max() < 1e-6


def test_pair_order_sets_flow_direction(motion_pairs, flow_epe):
    gray, truth = motion_pairs["translation"]
    forward, backward = tvl1_pairs_opencv(gray, [(0, 1), (1, 0)], default(FlowParams))
    # u = x, v = y in pixels: (1.3, -0.7) one way, its negative the other way.
    np.testing.assert_allclose(forward[MARGIN:-MARGIN, MARGIN:-MARGIN].mean((0, 1)), [1.3, -0.7], atol=0.05)
    assert flow_epe(backward, -truth, MARGIN) < SYNTHETIC_EPE


@pytest.mark.slow
def test_opencv_on_decoded_video(hopper_video, flow_epe):
    frames, truth = hopper_video
    flow = tvl1_pairs_opencv(to_gray(frames), [(t, t + 1) for t in range(4)], default(FlowParams))
    for t in range(4):
        assert flow_epe(flow[t], truth[t], MARGIN) < REAL_EPE


PRESETS = sorted(str(p.relative_to(REPO)) for p in (REPO / "benchmarks").glob("*.yaml"))


@pytest.mark.parametrize("preset", [None, *PRESETS], ids=["demo", *(Path(p).stem for p in PRESETS)])
def test_the_shipped_flow_settings_recover_the_synthetic_motion(preset):
    """TV-L1 at the shipped ``flow.offset`` must see the motion of the shipped synthetic videos: over
    MSCL's offset 8 the benchmark's 13 px displacements are beyond TV-L1's pyramid and the flow of
    translating or rotating objects comes out near zero (benchmarks/flow_accuracy.py, docs/mscl.md
    §8.19). The demo (params.yaml) and the motion benchmark (its preset over params.yaml), for a
    moving texture, a turning one, a moving object over a moving background, and a texture and
    a background moving in two directions."""
    doc = yaml.safe_load((REPO / preset).read_text()) if preset else {"dataset": "motion", "params": {}}
    params, name = doc["params"], doc["dataset"]
    demo = yaml.safe_load((REPO / "params.yaml").read_text())["datasets"].get(name, {})  # a preset's own dataset: all in the preset
    index = datasets_from_dict({name: {**demo, **params.get("datasets", {}).get(name, {})}})[name]
    flow = default(FlowParams, **params.get("flow", {}))
    for family, cls in (("direction", "right"), ("direction", "up"), ("direction", "rotate_cw"),
                         ("relative", "background_across"), ("layers", "both_move")):
        scene, rng = video_scene(index.seed, FAMILIES[family].index(cls), 0, height=index.height, width=index.width,
                                 num_frames=index.num_frames, speed=index.speed, family=family)
        est = tvl1_pairs_opencv(to_gray(render_video(scene, rng)), [(0, flow.offset)], flow)[0]
        truth, inside = true_flow(scene, 0, flow.offset)
        error = np.hypot(*(est - truth).transpose(2, 0, 1))
        assert np.median(error[inside]) < 1.0, (cls, np.median(error[inside]))
        assert np.median(error[~inside]) < 1.0, (cls, np.median(error[~inside]))  # the background, still or not
