import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mscl.transforms.spatial import (
    box_slices,
    center_crop,
    center_crop_box,
    crop_flip_rgb_flow,
    draw_flips,
    flip_flow,
    horizontal_flip,
    random_resized_crop_boxes,
    rescale_flow_vectors,
    resize_frames,
    resize_short_side,
    resized_crop,
    three_crop_boxes,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _coordinate_clips(B: int, T: int, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB clips whose channels 0, 1 hold each pixel's x, y; flow with u = x, v = y."""
    y, x = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    frame = torch.stack([x, y, x * y])  # (3, H, W)
    rgb = frame[None, :, None].expand(B, 3, T, H, W).clone()
    return rgb, rgb[:, :2].clone()


# --------------------------------------------------------------------------- boxes


def test_boxes_fit_and_follow_area_and_aspect_ranges():
    H, W = 120, 160
    boxes = random_resized_crop_boxes(2000, H, W, _gen())
    top, left, h, w = boxes.T
    assert boxes.dtype == torch.long and boxes.shape == (2000, 4)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= H).all() and (left + w <= W).all()
    frac = (h * w).double() / (H * W)
    assert frac.min() > 0.18 and frac.max() <= 1.0  # 0.2 up to rounding of h and w
    assert frac.min() < 0.25 and frac.max() > 0.9  # the whole range is used
    aspect = w.double() / h
    assert aspect.min() > 0.7 and aspect.max() < 1.4
    assert left.max() > 0 and top.max() > 0  # positions are random, not always the corner


def test_boxes_deterministic_for_a_seed_and_free_of_global_rng():
    torch.manual_seed(1)
    a = random_resized_crop_boxes(8, 64, 80, _gen(5))
    torch.manual_seed(2)
    b = random_resized_crop_boxes(8, 64, 80, _gen(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, random_resized_crop_boxes(8, 64, 80, _gen(6)))


def test_boxes_fall_back_to_centre_crop():
    # a 10x100 frame cannot hold a full-area crop with aspect <= 4/3: every try misses, and the
    # fallback is the centred box of aspect 4/3 and full height: h=10, w=round(13.33)=13
    boxes = random_resized_crop_boxes(3, 10, 100, _gen(), scale=(1.0, 1.0))
    assert boxes.tolist() == [[0, 43, 10, 13]] * 3


def test_center_and_three_crop_boxes():
    assert center_crop_box(128, 171, 112).tolist() == [8, 30, 112, 112]  # round(59/2) = 30
    assert three_crop_boxes(128, 171, 128).tolist() == [[0, 0, 128, 128], [0, 22, 128, 128], [0, 43, 128, 128]]
    assert three_crop_boxes(171, 128, 128)[:, 0].tolist() == [0, 22, 43]


# --------------------------------------------------------------------------- resized crop


def test_box_of_output_size_reproduces_the_slice():
    x = torch.rand(2, 3, 4, 20, 30, generator=_gen(1))
    boxes = torch.tensor([[2, 5, 8, 12], [11, 17, 8, 12]])
    out = resized_crop(x, boxes, (8, 12))
    assert torch.allclose(out[0], x[0, :, :, 2:10, 5:17], atol=1e-5)
    assert torch.allclose(out[1], x[1, :, :, 11:19, 17:29], atol=1e-5)
    single = resized_crop(x[1], boxes[1], (8, 12))  # one clip, one box
    assert torch.allclose(single, out[1])


def test_halving_matches_bilinear_interpolation_of_the_slice():
    x = torch.rand(3, 2, 24, 24, generator=_gen(2))
    out = resized_crop(x, torch.tensor([4, 6, 16, 12]), (8, 6))
    ref = F.interpolate(x[:, :, 4:20, 6:18], size=(8, 6), mode="bilinear", align_corners=False)
    assert out.shape == (3, 2, 8, 6)
    assert torch.allclose(out, ref, atol=1e-5)


def test_rescale_flow_vectors_by_resize_factor():
    flow = torch.ones(2, 2, 3, 10, 10)
    boxes = torch.tensor([[0, 0, 20, 40], [0, 0, 5, 8]])  # (top, left, h, w)
    out = rescale_flow_vectors(flow, boxes, 10)
    # u * out_w / w, v * out_h / h
    assert torch.allclose(out[0, 0], torch.full((3, 10, 10), 0.25))
    assert torch.allclose(out[0, 1], torch.full((3, 10, 10), 0.5))
    assert torch.allclose(out[1, 0], torch.full((3, 10, 10), 1.25))
    assert torch.allclose(out[1, 1], torch.full((3, 10, 10), 2.0))


# --------------------------------------------------------------------------- flips


def test_flip_twice_is_identity_and_decisions_are_per_clip():
    x = torch.rand(2, 2, 3, 5, 7, generator=_gen(3))
    flips = torch.tensor([True, False])
    once = flip_flow(x, flips, negate_u=True)
    assert torch.allclose(once[0, 1], x[0, 1].flip(-1)) and torch.equal(once[1], x[1])
    assert torch.equal(flip_flow(once, flips, negate_u=True), x)
    assert torch.equal(horizontal_flip(horizontal_flip(x, flips), flips), x)


def test_negate_u_turns_rightward_motion_leftward():
    flow = torch.zeros(2, 2, 6, 8)
    flow[0, :, :, :3] = 1.0  # rightward motion in the left part of the frame
    flipped = flip_flow(flow, torch.tensor(True), negate_u=True)
    assert (flipped[0, :, :, 5:] == -1).all() and (flipped[0, :, :, :5] == 0).all()
    assert (flipped[1] == 0).all()
    literal = flip_flow(flow, torch.tensor(True))  # MSCL: the image is mirrored, u keeps its sign
    assert (literal[0, :, :, 5:] == 1).all()


def test_draw_flips_rate_and_determinism():
    flips = draw_flips(4000, _gen(4))
    assert flips.dtype == torch.bool and 0.45 < flips.float().mean() < 0.55
    assert torch.equal(flips, draw_flips(4000, _gen(4)))
    assert not draw_flips(50, _gen(4), p=0.0).any()


# --------------------------------------------------------------------------- composed


@pytest.mark.parametrize("seed", range(4))
def test_rgb_and_flow_share_box_and_flip(seed):
    rgb, flow = _coordinate_clips(B=6, T=3, H=40, W=48)
    out_rgb, out_flow = crop_flip_rgb_flow(rgb, flow, _gen(seed), size=16)
    assert out_rgb.shape == (6, 3, 3, 16, 16) and out_flow.shape == (6, 2, 3, 16, 16)
    # u and v were built as copies of the x and y channels: same box + same flip keep them equal
    assert torch.allclose(out_flow, out_rgb[:, :2], atol=1e-4)


def test_composed_options_negate_and_rescale():
    rgb, flow = _coordinate_clips(B=32, T=2, H=32, W=32)
    ones = torch.ones_like(flow)
    out_rgb, out_flow = crop_flip_rgb_flow(rgb, ones, _gen(7), size=16, negate_u=True, rescale_flow=True)
    # the x, y channels step by (box size / 16) per output pixel (negative x step when mirrored)
    step_x = out_rgb[:, 0, 0, 8, 5] - out_rgb[:, 0, 0, 8, 4]
    step_y = out_rgb[:, 1, 0, 5, 8] - out_rgb[:, 1, 0, 4, 8]
    assert (step_x < 0).any() and (step_x > 0).any()  # some clips flipped, some not
    assert torch.allclose(out_flow[:, 0, 0, 8, 8], 1 / step_x, atol=1e-4)  # u = -+16 / w
    assert torch.allclose(out_flow[:, 1, 0, 8, 8], 1 / step_y, atol=1e-4)  # v = 16 / h
    literal = crop_flip_rgb_flow(rgb, ones, _gen(7), size=16)[1]
    assert torch.equal(literal, ones[..., :16, :16])  # literal MSCL: values untouched


def test_composed_single_clip_and_reproducible():
    rgb, flow = _coordinate_clips(B=1, T=2, H=24, W=30)
    a = crop_flip_rgb_flow(rgb[0], flow[0], _gen(8), size=(8, 10))
    b = crop_flip_rgb_flow(rgb[0], flow[0], _gen(8), size=(8, 10))
    assert a[0].shape == (3, 2, 8, 10) and a[1].shape == (2, 2, 8, 10)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# --------------------------------------------------------------------------- evaluation


def test_center_crop_and_short_side_resize():
    x = torch.arange(10 * 12, dtype=torch.float32).reshape(1, 1, 1, 10, 12).expand(2, 3, 4, 10, 12)
    out = center_crop(x, 6)
    assert out.shape == (2, 3, 4, 6, 6) and torch.equal(out, x[..., 2:8, 3:9])
    resized = resize_short_side(torch.full((3, 4, 20, 50), 0.3), 10)
    assert resized.shape == (3, 4, 10, 25)
    assert torch.allclose(resized, torch.full_like(resized, 0.3))
    assert resize_short_side(torch.rand(2, 3, 2, 30, 12), 6).shape == (2, 3, 2, 15, 6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    rgb, flow = _coordinate_clips(B=2, T=2, H=24, W=24)
    a = crop_flip_rgb_flow(rgb, flow, _gen(9), size=8, negate_u=True, rescale_flow=True)
    b = crop_flip_rgb_flow(rgb.cuda(), flow.cuda(), _gen(9), size=8, negate_u=True, rescale_flow=True)
    assert b[0].is_cuda and torch.allclose(a[0], b[0].cpu(), atol=1e-4)
    assert torch.allclose(a[1], b[1].cpu(), atol=1e-4)


def test_a_box_is_resized_as_if_cut_out_first_with_its_edge_pixels_repeated():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 30, 41, generator=g)
    for top, left, h, w in [(5, 11, 7, 9), (0, 0, 7, 9), (23, 32, 7, 9), (5, 11, 13, 17), (0, 0, 30, 41)]:
        box = torch.tensor([top, left, h, w])
        cut = x[..., top : top + h, left : left + w]
        for size in (8, 16, (5, 12)):
            ref = resized_crop(cut.contiguous(), torch.tensor([0, 0, h, w]), size)
            torch.testing.assert_close(resized_crop(x, box, size), ref, rtol=0, atol=1e-5)
    # enlarged twice: the first and last output rows repeat the box's edge rows exactly
    out = resized_crop(x, torch.tensor([5, 11, 4, 4]), 8)
    torch.testing.assert_close(out[..., 0, :], resized_crop(x[..., 5:6, :], torch.tensor([0, 11, 1, 4]), (1, 8))[..., 0, :])


def _boxes_and_sizes(g):
    boxes = [(0, 0, 30, 41), (0, 0, 7, 9), (23, 32, 7, 9), (5, 11, 13, 17), (1, 1, 28, 39), (12, 0, 3, 41)]
    for box in boxes + [tuple(b) for b in random_resized_crop_boxes(20, 30, 41, g).tolist()]:
        for size in (8, 16, (5, 12)):
            yield torch.tensor(box), size


def test_resize_frames_of_box_views_equals_resized_crop():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2, 30, 41, 3), generator=g, dtype=torch.uint8)  # (T, H, W, C) as decoded
    flow = torch.randn(2, 30, 41, 2, generator=g) * 5
    for box, size in _boxes_and_sizes(g):
        rows, cols = box_slices(box)
        ref = resized_crop(x.permute(3, 0, 1, 2).float(), box, size).permute(1, 2, 3, 0)
        out = resize_frames([f[rows, cols] for f in x.numpy()], size)  # views of the frames: no copy
        assert out.dtype == np.uint8 and out.shape == ref.shape
        assert np.abs(out.astype(np.float32) - ref.numpy()).max() <= 1.0  # fixed-point weights, rounded
        ref = resized_crop(flow.permute(3, 0, 1, 2).contiguous(), box, size).permute(1, 2, 3, 0)
        out = resize_frames([f[rows, cols] for f in flow.numpy()], size)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, ref.numpy(), rtol=0, atol=1e-4)  # values up to ~25


def test_resize_frames_keeps_one_channel_frames_three_dimensional():
    frames = [np.arange(20, dtype=np.float32).reshape(4, 5, 1) * k for k in (1, 2, 3)]
    out = resize_frames(frames, (8, 10))  # OpenCV returns (8, 10) for one channel
    ref = resized_crop(torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2), torch.tensor([0, 0, 4, 5]), (8, 10))
    np.testing.assert_allclose(out, ref.permute(1, 2, 3, 0).numpy(), rtol=0, atol=1e-4)
