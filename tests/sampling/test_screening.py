import numpy as np
import torch

from mscl.flow.motion import frame_differential_scores
from mscl.io.flow_files import FlowReader
from mscl.params import ScreenParams, default
from mscl.sampling.mds import motion_differential_sampling
from mscl.sampling.screening import screen_video, video_frame_scores

from helpers import swirling_flow, write_test_flow as write

CPU = torch.device("cpu")
P = default(ScreenParams, block=8, clip_len=3, stride=2, device="cpu")


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
    c, kept = screen_video(path, default(ScreenParams, enabled=False, block=8, clip_len=3, stride=2, device="cpu"), CPU)
    np.testing.assert_array_equal(kept, np.arange(9))
    np.testing.assert_array_equal(c, screen_video(path, P, CPU)[0])


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
    c, kept = screen_video(write(tmp_path / "squares.zip", flow), default(ScreenParams, block=8, clip_len=2, stride=1), CPU)
    np.testing.assert_allclose(c, c_hand, rtol=0.02, atol=0.5)
    assert kept.tolist() == [0, 1]  # above the median (s_1 / 4)
