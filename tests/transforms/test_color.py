import pytest
import torch
import torchvision.transforms.v2.functional as TF

from mscl.transforms.color import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    blur_kernel_size,
    color_augment,
    draw_jitter_params,
    gaussian_blur,
    hsv_to_rgb,
    normalize,
    rgb_to_hsv,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clips(B: int = 2, T: int = 3, H: int = 12, W: int = 14, seed: int = 0) -> torch.Tensor:
    return torch.rand(B, 3, T, H, W, generator=_gen(seed))


def _unnormalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None, None]
    return x * std + mean


NO_AUG = dict(p_jitter=0.0, p_gray=0.0, p_blur=0.0)


# --------------------------------------------------------------------------- jitter ops


@pytest.mark.parametrize(
    "ours, reference, factors",
    [
        (adjust_brightness, TF.adjust_brightness, [0.6, 1.0, 1.4]),
        (adjust_contrast, TF.adjust_contrast, [0.6, 1.0, 1.4]),
        (adjust_saturation, TF.adjust_saturation, [0.6, 1.0, 1.4]),
        (adjust_hue, TF.adjust_hue, [-0.1, 0.0, 0.07]),
    ],
)
def test_jitter_ops_match_torchvision_per_frame(ours, reference, factors):
    x = _clips(B=2, T=3)
    f = torch.tensor([factors, factors[::-1]])  # (B, T): a different factor for every frame
    out = ours(x, f)
    for b in range(2):
        for t in range(3):
            ref = reference(x[b, :, t], float(f[b, t]))  # one (3, H, W) frame
            assert torch.allclose(out[b, :, t], ref, atol=1e-5), (b, t)


def test_hsv_round_trip():
    x = _clips(B=1, T=2)
    x[..., 0, 0] = 0.5  # a grey pixel (zero chroma)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-6)
    red = torch.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1, 1)
    assert torch.allclose(rgb_to_hsv(red).flatten(), torch.tensor([0.0, 1.0, 1.0]))


def test_jitter_params_ranges_and_modes():
    lit = draw_jitter_params(50, 4, _gen(1))
    assert lit.brightness.shape == (50, 4) and sorted(lit.order.tolist()) == [0, 1, 2, 3]
    for f in (lit.brightness, lit.contrast, lit.saturation):
        assert f.min() >= 0.6 and f.max() <= 1.4
    assert lit.hue.abs().max() <= 0.1
    assert (lit.brightness.std(dim=1) > 0).all()  # literal: one draw per frame
    con = draw_jitter_params(50, 4, _gen(1), consistent=True)
    assert torch.equal(con.hue, con.hue[:, :1].expand(50, 4))  # consistent: one per clip


# --------------------------------------------------------------------------- blur, normalise


def test_blur_kernel_size_follows_crop():
    assert blur_kernel_size(112) == 11
    assert blur_kernel_size(224) == 23
    assert blur_kernel_size(16) == 1


def test_blur_keeps_constant_image_and_matches_torchvision():
    const = torch.full((2, 3, 2, 16, 16), 0.37)
    assert torch.allclose(gaussian_blur(const, torch.tensor([0.5, 2.0]), 11), const, atol=1e-6)
    x = _clips(B=2, T=2, H=16, W=18)
    sigma = torch.tensor([0.4, 1.7])
    out = gaussian_blur(x, sigma, 7)
    for b in range(2):
        ref = TF.gaussian_blur(x[b].transpose(0, 1), [7, 7], [float(sigma[b])] * 2)  # (T, 3, H, W)
        assert torch.allclose(out[b], ref.transpose(0, 1), atol=1e-5)
    assert out.std() < x.std()


def test_normalize_maths():
    x = torch.zeros(3, 1, 2, 2)
    x[0], x[1], x[2] = 0.5, 0.0, 1.0
    out = normalize(x)
    assert torch.allclose(out[0], torch.full((1, 2, 2), (0.5 - 0.485) / 0.229))
    assert torch.allclose(out[1], torch.full((1, 2, 2), -0.456 / 0.224))
    assert torch.allclose(out[2], torch.full((1, 2, 2), (1 - 0.406) / 0.225))


# --------------------------------------------------------------------------- composed


def test_all_probabilities_zero_is_normalisation_only():
    x = _clips()
    assert torch.allclose(color_augment(x, _gen(), **NO_AUG), normalize(x))
    assert torch.allclose(_unnormalize(color_augment(x, _gen(), **NO_AUG)), x, atol=1e-6)


def test_grayscale_output_has_equal_channels():
    out = _unnormalize(color_augment(_clips(), _gen(), p_jitter=0.0, p_gray=1.0, p_blur=0.0))
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-6)
    assert torch.allclose(out[:, 1], out[:, 2], atol=1e-6)


def test_apply_decisions_are_per_clip_over_all_frames():
    x = _clips(B=40, T=3, H=6, W=6)
    out = _unnormalize(color_augment(x, _gen(2), p_jitter=0.0, p_gray=0.5, p_blur=0.0))
    gray_frames = (out[:, 0] - out[:, 1]).abs().amax(dim=(-2, -1)) < 1e-6  # (B, T)
    assert (gray_frames.all(dim=1) | ~gray_frames.any(dim=1)).all()  # all frames or none
    assert gray_frames.all(dim=1).any() and (~gray_frames.any(dim=1)).any()


def test_consistent_mode_repeats_the_transform_over_frames():
    frame = torch.rand(1, 3, 1, 10, 10, generator=_gen(3))
    clip = frame.expand(4, 3, 5, 10, 10).contiguous()  # clips of identical frames
    con = color_augment(clip, _gen(4), p_jitter=1.0, p_gray=0.0, p_blur=0.0, consistent=True)
    assert torch.allclose(con, con[:, :, :1].expand_as(con), atol=1e-6)
    lit = color_augment(clip, _gen(4), p_jitter=1.0, p_gray=0.0, p_blur=0.0)
    assert not torch.allclose(lit, lit[:, :, :1].expand_as(lit), atol=1e-3)


def test_shapes_dtypes_and_reproducibility():
    x = _clips(B=3, T=2, H=20, W=20)
    out = color_augment(x, _gen(5), p_blur=1.0)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.equal(out, color_augment(x, _gen(5), p_blur=1.0))
    single = color_augment(x[0].double(), _gen(5))
    assert single.shape == x[0].shape and single.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    x = _clips(B=2, T=2, H=24, W=24)
    kw = dict(p_jitter=1.0, p_gray=0.5, p_blur=1.0, kernel_size=5)
    a = color_augment(x, _gen(6), **kw)
    b = color_augment(x.cuda(), _gen(6), **kw)
    assert b.is_cuda and torch.allclose(a, b.cpu(), atol=1e-4)
