import numpy as np
import pytest
import torch

from mscl.flow.colorwheel import (
    NUM_COLORS,
    color_wheel,
    flow_to_color,
    flow_to_color_np,
    normalize_per_frame,
)


def uniform_flow(u: float, v: float, h: int = 4, w: int = 5) -> torch.Tensor:
    """(2, H, W) float32 field with the same vector everywhere."""
    return torch.tensor([u, v], dtype=torch.float32).view(2, 1, 1).expand(2, h, w).clone()


def pixel(rgb: torch.Tensor) -> list[float]:
    """The colour of pixel (0, 0) of a (3, H, W) picture."""
    return rgb[:, 0, 0].tolist()


def test_wheel_has_55_colours_with_known_anchors():
    wheel = color_wheel() * 255
    assert wheel.shape == (NUM_COLORS, 3) == (55, 3)
    # Arc starts: red, yellow, green, cyan, blue, magenta at 0, 15, 21, 25, 36, 49.
    for k, rgb in [(0, (255, 0, 0)), (15, (255, 255, 0)), (21, (0, 255, 0)),
                   (25, (0, 255, 255)), (36, (0, 0, 255)), (49, (255, 0, 255))]:
        assert wheel[k].tolist() == list(rgb)
    # Inside arcs: floor(255*i/n) ramps, e.g. RY i=13 -> 221, CB i=2 -> 255-46, MR i=5 -> 255-212.
    assert wheel[13].tolist() == [255, 221, 0]
    assert wheel[27].tolist() == [0, 209, 255]
    assert wheel[54].tolist() == [255, 0, 43]


def test_rightward_unit_flow_is_pure_red():
    # u > 0, v = +0: atan2(-0, -u) = -pi -> wheel position 0 (pure red), saturation 1.
    assert pixel(flow_to_color(uniform_flow(1.0, 0.0))) == [1.0, 0.0, 0.0]


def test_rightward_seam_sides():
    # Just below the x axis (v > 0) the hue stays at the red start of the wheel; just above
    # (v < 0) it jumps to the last wheel colour (255, 0, 43): the wheel is not closed there.
    below = pixel(flow_to_color(uniform_flow(1.0, 1e-4)))
    above = pixel(flow_to_color(uniform_flow(1.0, -1e-4)))
    np.testing.assert_allclose(below, [1.0, 0.0, 0.0], atol=1e-3)
    np.testing.assert_allclose(above, [1.0, 0.0, 43 / 255], atol=1e-3)


@pytest.mark.parametrize(
    "u, v, expected",
    [
        (-1.0, 0.0, [0.0, 209 / 255, 1.0]),        # a = 0 -> position 27 exactly
        (0.0, 1.0, [1.0, 229.5 / 255, 0.0]),       # a = -1/2 -> halfway between 13 and 14
        (0.0, -1.0, [88 / 255, 0.0, 1.0]),         # a = 1/2 -> halfway between 40 (78) and 41 (98)
    ],
)
def test_cardinal_directions_interpolate_the_wheel(u, v, expected):
    np.testing.assert_allclose(pixel(flow_to_color(uniform_flow(u, v))), expected, atol=1e-5)


def test_zero_flow_is_white():
    out = flow_to_color(torch.zeros(2, 3, 3))
    assert torch.equal(out, torch.ones(3, 3, 3))


def test_opposite_directions_differ():
    for u, v in [(1.0, 0.3), (0.2, 0.9), (-0.7, 0.1)]:
        a = pixel(flow_to_color(uniform_flow(u, v)))
        b = pixel(flow_to_color(uniform_flow(-u, -v)))
        assert max(abs(x - y) for x, y in zip(a, b)) > 0.3


def test_magnitude_scales_saturation():
    # Half length: each channel moves halfway from white towards the wheel colour.
    assert pixel(flow_to_color(uniform_flow(0.5, 0.0))) == [1.0, 0.5, 0.5]
    # Longer than one: the wheel colour darkened to 75 %.
    assert pixel(flow_to_color(uniform_flow(2.0, 0.0))) == [0.75, 0.0, 0.0]
    sat = [1 - min(pixel(flow_to_color(uniform_flow(r, 0.0)))) for r in (0.1, 0.4, 0.8, 1.0)]
    assert sat == sorted(sat) and sat[-1] == 1.0


def test_batch_dims_preserved_and_match_single_frames():
    flow = torch.randn(2, 3, 2, 6, 7) * 0.5                  # (B, T, 2, H, W)
    out = flow_to_color(flow)
    assert out.shape == (2, 3, 3, 6, 7)
    assert out.dtype == flow.dtype
    torch.testing.assert_close(out[1, 2], flow_to_color(flow[1, 2]))
    assert out.min() >= 0 and out.max() <= 1


def test_normalize_per_frame_scales_each_frame_by_its_max():
    flow = torch.zeros(3, 2, 4, 4)                           # (T, 2, H, W)
    flow[0, 0, 1, 1] = 3.0
    flow[0, 1, 2, 2] = 4.0                                   # frame 0: max length 4
    flow[1, :, 0, 0] = torch.tensor([6.0, 8.0])              # frame 1: max length 10
    out = normalize_per_frame(flow, eps=1e-5)
    assert out.shape == flow.shape
    np.testing.assert_allclose(out[0, 0, 1, 1], 3 / (4 + 1e-5), rtol=1e-6)
    np.testing.assert_allclose(out[1, :, 0, 0], [0.6, 0.8], rtol=1e-5)
    assert torch.equal(out[2], torch.zeros(2, 4, 4))         # all-zero frame stays zero
    lengths = torch.linalg.vector_norm(out[:2], dim=1).amax(dim=(-2, -1))
    assert (lengths < 1).all() and (lengths > 0.999).all()


def test_numpy_picture_is_max_normalised_uint8():
    flow = np.zeros((4, 5, 2), np.float32)
    flow[..., 0] = 7.0                                       # uniform rightward, 7 px
    picture = flow_to_color_np(flow)
    assert picture.shape == (4, 5, 3) and picture.dtype == np.uint8
    assert picture[0, 0].tolist() == [255, 0, 0]
    flow[0, 0] = [3.5, 0.0]                                  # half the max -> half saturated
    assert flow_to_color_np(flow)[0, 0].tolist() == [255, 127, 127]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    flow = torch.randn(3, 2, 16, 16) * 0.7
    out = flow_to_color(normalize_per_frame(flow.to("cuda")))
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), flow_to_color(normalize_per_frame(flow)))
