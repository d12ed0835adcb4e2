import math

import numpy as np

import pytest
import torch

from mscl.flow.motion import (
    attention_map,
    frame_differential_scores,
    motion_map,
    sobel,
    weighted_color_maps,
)


def square_flow(h: int, w: int, top: int, left: int, size: int, u: float, v: float) -> torch.Tensor:
    """(2, H, W): a square patch moving by (u, v) pixels on a still background."""
    flow = torch.zeros(2, h, w)
    flow[0, top:top + size, left:left + size] = u
    flow[1, top:top + size, left:left + size] = v
    return flow


# ----------------------------------------------------------------------------- Sobel


def test_sobel_of_centre_impulse_is_the_correlation_kernel():
    # scipy.ndimage.sobel(axis=-1) = correlate1d([-1, 0, 1]) along x then [1, 2, 1] along y:
    # out[x] = in[x+1] - in[x-1], so the pixel left of an impulse gets +1 (times 2 on its row).
    img = torch.zeros(1, 3, 3)
    img[0, 1, 1] = 1.0
    g = sobel(img)[0]
    assert g[0].tolist() == [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    assert g[1].tolist() == [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]


def test_sobel_border_repeats_edge_sample_like_scipy_reflect():
    # Impulse in the corner. scipy 'reflect' pads with the edge value itself:
    # x pass on row 0, padded [1 | 1 0 0 | 0] -> [-1, -1, 0];
    # y pass on column [a, 0, 0], padded [a | a 0 0 | 0] -> [3a, a, 0].
    img = torch.zeros(1, 3, 3)
    img[0, 0, 0] = 1.0
    g = sobel(img)[0]
    assert g[0].tolist() == [[-3, -3, 0], [-1, -1, 0], [0, 0, 0]]
    assert g[1].tolist() == [[-3, -1, 0], [-3, -1, 0], [0, 0, 0]]


def test_sobel_of_ramp_is_eight_inside_four_on_border():
    img = torch.arange(5.0).expand(4, 5).unsqueeze(0)         # rises by 1 per pixel in x
    g = sobel(img)[0]
    assert g[0].tolist() == [[4, 8, 8, 8, 4]] * 4
    assert g[1].abs().max() == 0


# ----------------------------------------------------------------------------- motion map


def test_uniform_flow_has_zero_motion_map():
    flow = torch.tensor([3.0, -2.0]).view(1, 2, 1, 1).expand(2, 2, 9, 11)
    M = motion_map(flow)
    assert M.shape == (2, 9, 11)
    assert M.abs().max() == 0


def test_motion_edge_gives_motion_exactly_at_the_edge():
    flow = torch.zeros(1, 2, 6, 8)
    flow[0, 0, :, 4:] = 1.0                                   # u jumps from 0 to 1 at x = 4
    M = motion_map(flow)[0]
    # Columns 3 and 4 see in[x+1] - in[x-1] = 1 on every row, smoothed by 1 + 2 + 1.
    assert M[:, 3].tolist() == [4.0] * 6 and M[:, 4].tolist() == [4.0] * 6
    assert M[:, [0, 1, 2, 5, 6, 7]].abs().max() == 0


def test_motion_map_combines_all_four_derivatives():
    flow = torch.zeros(1, 2, 3, 3)
    flow[0, 0, 0, 0] = 1.0                                    # corner impulse in u only
    flow[0, 1, 0, 0] = 1.0                                    # and the same in v
    M = motion_map(flow)[0]
    # From the corner-impulse Sobel values above: u and v each contribute (-3,-3), (-3,-1), ...
    expected = [[math.sqrt(36), math.sqrt(20), 0], [math.sqrt(20), math.sqrt(4), 0], [0, 0, 0]]
    torch.testing.assert_close(M, torch.tensor(expected))


# ----------------------------------------------------------------------------- attention


def test_attention_is_block_average_scaled_to_max_one():
    M = torch.zeros(1, 4, 4)
    M[0, :2, :2] = 2.0                                        # block (0, 0) mean 2
    M[0, 2:, 2:] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])     # block (1, 1) mean 0.5
    A = attention_map(M, block=2)
    assert A.shape == (1, 4, 4)
    # Bilinear upsampling (align_corners=False) of a 2x2 grid by 2: the corner pixels keep the
    # cell value, inner pixels blend 3:1 with the neighbour cell.
    assert A[0, 0, 0] == 1.0 and A[0, 3, 3] == 0.25
    torch.testing.assert_close(A[0, 1, 1], torch.tensor((9 * 2 + 3 * 0 + 3 * 0 + 0.5) / 16 / 2))
    assert A.max() == 1.0 and A.min() >= 0


def test_attention_of_zero_motion_is_zero_not_nan():
    A = attention_map(torch.zeros(2, 8, 8), block=4)
    assert torch.equal(A, torch.zeros(2, 8, 8))


def test_block_larger_than_frame_is_clamped_to_short_side():
    M = torch.rand(3, 8, 12)
    torch.testing.assert_close(attention_map(M, block=1000), attention_map(M, block=8))
    with pytest.raises(ValueError):
        attention_map(M, block=0)


# ----------------------------------------------------------------------------- scores


def test_weighted_color_maps_shape_and_scale():
    flow = torch.stack([square_flow(16, 16, 4, 4, 6, 2.0, 0.0)] * 3)
    Wc = weighted_color_maps(flow, block=4)
    assert Wc.shape == (3, 3, 16, 16)
    assert Wc.min() >= 0 and Wc.max() <= 255 and Wc.max() > 100


def test_flow_that_never_changes_scores_zero():
    flow = torch.stack([square_flow(20, 24, 5, 6, 8, 1.5, -0.5)] * 5)   # (T, 2, H, W)
    s = frame_differential_scores(flow, block=4)
    assert s.shape == (5,)
    assert torch.equal(s, torch.zeros(5))


def test_change_between_frames_j_and_j_plus_1_scores_at_j_only():
    right = square_flow(20, 24, 5, 6, 8, 2.0, 0.0)
    left = square_flow(20, 24, 5, 6, 8, -2.0, 0.0)
    flow = torch.stack([right, right, right, left, left])    # change between frames 2 and 3
    s = frame_differential_scores(flow, block=4)
    assert s[2] > 10                                          # colour distance on 0..255 scale
    torch.testing.assert_close(s[[0, 1, 3, 4]], torch.zeros(4), atol=1e-4, rtol=0)


def test_larger_change_scores_higher():
    base = square_flow(20, 24, 5, 6, 8, 2.0, 0.0)
    small = square_flow(20, 24, 5, 6, 8, 2.0, 0.5)            # slight turn downwards
    large = square_flow(20, 24, 5, 6, 8, -2.0, 0.0)           # reversal
    s = frame_differential_scores(torch.stack([base, small, base, large]), block=4)
    assert 0 < s[0] < s[2]


def test_last_frame_is_zero_and_degenerate_lengths():
    flow = torch.randn(4, 2, 12, 12)
    s = frame_differential_scores(flow, block=4)
    assert s[-1] == 0 and (s[:-1] > 0).all()
    assert frame_differential_scores(flow[:1], block=4).tolist() == [0.0]
    assert frame_differential_scores(flow[:0], block=4).shape == (0,)
    with pytest.raises(ValueError):
        frame_differential_scores(flow.movedim(0, 1), block=4)  # (2, T, H, W) by mistake


def test_scores_are_batch_consistent():
    # Scoring a video in one batch equals scoring overlapping pieces of it.
    flow = torch.randn(6, 2, 16, 16)
    whole = frame_differential_scores(flow, block=4)
    first = frame_differential_scores(flow[:4], block=4)
    torch.testing.assert_close(whole[:3], first[:3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    flow = torch.randn(5, 2, 32, 40)
    s = frame_differential_scores(flow.to("cuda"), block=8)
    assert s.device.type == "cuda"
    torch.testing.assert_close(s.cpu(), frame_differential_scores(flow, block=8), rtol=1e-4, atol=1e-3)


def _square_flows(size: int = 8) -> torch.Tensor:
    """(4, 2, 8, 8): a 4x4 square of 3 px flow on a still background. Frame 0: square at (2, 2)
    moving left; frames 1-3: square at (4, 4), moving left in frame 1, down in frames 2 and 3."""
    flow = torch.zeros(4, 2, size, size)
    flow[0, 0, 2:6, 2:6] = -3.0
    flow[1, 0, 4:8, 4:8] = -3.0
    flow[2:, 1, 4:8, 4:8] = 3.0
    return flow


# Worked by hand. With one pooling block over the frame, the attention is 1 wherever there is
# motion, so W_j is the colour code x 255: still pixels white (255, 255, 255); left = wheel
# column 27 (0, 209, 255); down = halfway between columns 13 and 14, (255, 229.5, 0).
# s_0: the squares differ on 24 of 64 pixels, each |white - left| = sqrt(255^2 + 46^2);
# s_1: the 16 square pixels change from left to down, sqrt(255^2 + 20.5^2 + 255^2) each;
# s_2 = 0 (no change) and s_3 = 0 (the last frame).
SQUARE_SCORES = [24 * math.hypot(255, 46) / 64, 16 * math.sqrt(255**2 + 20.5**2 + 255**2) / 64, 0.0, 0.0]


def test_scores_of_moving_squares_worked_by_hand():
    s = frame_differential_scores(_square_flows(), block=8)
    np.testing.assert_allclose(s.numpy(), SQUARE_SCORES, rtol=1e-4, atol=1e-3)
