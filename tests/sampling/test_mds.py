import numpy as np
import torch

from mscl.flow.motion import frame_differential_scores
from mscl.sampling.mds import clip_scores, motion_differential_sampling


def test_clip_scores_hand_computed():
    s = np.arange(1.0, 11.0)                                  # s_j = j + 1, L = 10
    c = clip_scores(s, clip_len=3, stride=4)
    # c_0 = (s0 + s4 + s8) / 3 = (1 + 5 + 9) / 3; c_2 = (3 + 7) / 3 (s10 is past the end);
    # c_6 = 7 / 3 (only s6 fits).
    np.testing.assert_allclose(c[[0, 1, 2, 6, 9]], [15 / 3, 18 / 3, 10 / 3, 7 / 3, 10 / 3])
    assert c.shape == (10,)


def test_clip_scores_default_is_eight_frames_stride_four():
    s = np.zeros(40)
    s[12] = 8.0
    c = clip_scores(s)
    # Frame 12 is frame k of the clips starting at 12 - 4k for k = 0..3, i.e. 12, 8, 4, 0.
    np.testing.assert_allclose(np.flatnonzero(c), [0, 4, 8, 12])
    np.testing.assert_allclose(c[[0, 4, 8, 12]], [1.0] * 4)


def test_clip_scores_short_video_does_not_wrap():
    # stride*k > L must add nothing (a negative slice bound would wrap to the front).
    c = clip_scores([2.0, 4.0, 6.0], clip_len=8, stride=4)
    np.testing.assert_allclose(c, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(clip_scores([8.0], clip_len=8, stride=4), [1.0])
    assert clip_scores(np.zeros(0)).shape == (0,)


def test_keeps_starts_strictly_above_median():
    c = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.8])              # median 0.6
    kept = motion_differential_sampling(c)
    assert kept.tolist() == [1, 3, 5] and kept.dtype == np.int64
    # Odd length: the median element itself is not kept.
    assert motion_differential_sampling([3.0, 1.0, 2.0]).tolist() == [0]
    # Ties at the median keep fewer than half.
    assert motion_differential_sampling([0.0, 0.0, 0.0, 1.0]).tolist() == [3]


def test_static_video_keeps_nothing():
    assert motion_differential_sampling(np.zeros(12)).tolist() == []
    assert motion_differential_sampling(np.full(5, 3.0)).tolist() == []
    assert motion_differential_sampling(np.zeros(0)).tolist() == []


def test_static_stretch_is_never_chosen_when_moving_ones_exist():
    # Flow video: 24 static frames (zero flow), then 24 frames of a square whose motion
    # changes direction every frame. Static-stretch clips score 0, moving ones > 0.
    T, H, W = 48, 16, 16
    flow = torch.zeros(T, 2, H, W)
    for j in range(24, T):
        angle = 0.7 * j
        flow[j, 0, 4:12, 4:12] = 2 * np.cos(angle)
        flow[j, 1, 4:12, 4:12] = 2 * np.sin(angle)
    s = frame_differential_scores(flow, block=4).numpy()
    c = clip_scores(s, clip_len=4, stride=2)
    kept = motion_differential_sampling(c)
    assert len(kept) > 0
    # A clip starting at i covers i..i+6; one that never reaches frame 23 (last static
    # frame paired with the first moving one) scores 0 and must not be kept.
    assert kept.min() >= 23 - 6
    assert np.all(c[kept] > 0)


def test_deterministic():
    rng = np.random.default_rng(0)
    s = rng.random(50)
    a = motion_differential_sampling(clip_scores(s))
    b = motion_differential_sampling(clip_scores(s.copy()))
    assert np.array_equal(a, b)
