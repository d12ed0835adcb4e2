"""RGB-only photometric augmentation of MSCL (docs/mscl.md §2.4), batched over clips and frames.

Order: colour jitter (p=0.8), random grayscale (p=0.2), Gaussian blur (p=0.5), then ImageNet
mean/std normalisation. Inputs are clips ``(3, T, H, W)`` or batches ``(B, 3, T, H, W)`` in
[0, 1]; the channel axis is always dim -4. The jitter maths follows torchvision's definitions
(brightness scales, contrast blends with the frame's mean luma, saturation blends with the luma
image, hue shifts the HSV hue). Randomness comes only from a CPU ``torch.Generator``; drawn
parameters are moved to the data's device, so the same call runs in loader workers and on a GPU.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LUMA = (0.2989, 0.587, 0.114)  # ITU-R 601 weights, as torchvision's rgb_to_grayscale


class JitterParams(NamedTuple):
    """Colour-jitter factors, each ``(N, T)`` (one per frame), and the op order ``(4,)``."""

    brightness: torch.Tensor
    contrast: torch.Tensor
    saturation: torch.Tensor
    hue: torch.Tensor
    order: torch.Tensor


def _frame(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-frame values ``(..., T)`` -> broadcastable against x ``(..., C, T, H, W)``."""
    return p.to(x.device, x.dtype)[..., None, :, None, None]


def _clip(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-clip values with shape ``x.shape[:-4]`` -> broadcastable against x."""
    return p.to(x.device).reshape(p.shape + (1, 1, 1, 1))


# --------------------------------------------------------------------------- jitter ops


def luma(x: torch.Tensor) -> torch.Tensor:
    """Grayscale (luma) of RGB frames. x: (..., 3, T, H, W) -> (..., 1, T, H, W)."""
    w = torch.tensor(LUMA, device=x.device, dtype=x.dtype)[:, None, None, None]
    return (x * w).sum(dim=-4, keepdim=True)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """x * factor, clamped to [0, 1]. x: (..., 3, T, H, W); factor: (..., T)."""
    return (x * _frame(factor, x)).clamp(0, 1)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend each frame with its mean luma: f x + (1 - f) mean. factor: (..., T)."""
    mean = luma(x).mean(dim=(-2, -1), keepdim=True)  # (..., 1, T, 1, 1)
    f = _frame(factor, x)
    return (f * x + (1 - f) * mean).clamp(0, 1)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend each frame with its luma image: f x + (1 - f) gray. factor: (..., T)."""
    f = _frame(factor, x)
    return (f * x + (1 - f) * luma(x)).clamp(0, 1)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> HSV with hue in [0, 1). x: (..., 3, T, H, W) -> same shape."""
    r, g, b = x.unbind(dim=-4)
    v, vmin = x.amax(dim=-4), x.amin(dim=-4)
    chroma = v - vmin
    s = chroma / torch.where(v > 0, v, torch.ones_like(v))
    c = torch.where(chroma > 0, chroma, torch.ones_like(chroma))  # grey pixels get hue 0
    # the sextant of the hue is set by which channel is largest
    h = torch.where(v == r, (g - b) / c, torch.where(v == g, 2 + (b - r) / c, 4 + (r - g) / c))
    return torch.stack([torch.remainder(h / 6, 1.0), s, v], dim=-4)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV (hue in [0, 1)) -> RGB. x: (..., 3, T, H, W) -> same shape."""
    h, s, v = x.unbind(dim=-4)
    # closed form per channel: k = (n + 6h) mod 6 with n = 5, 3, 1 for R, G, B
    n = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype)[:, None, None, None]
    k = torch.remainder(n + 6 * h.unsqueeze(-4), 6)
    return v.unsqueeze(-4) * (1 - s.unsqueeze(-4) * torch.minimum(k, 4 - k).clamp(0, 1))


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` (fraction of a turn, in [-0.5, 0.5]). shift: (..., T)."""
    h, s, v = rgb_to_hsv(x).unbind(dim=-4)
    h = torch.remainder(h + _frame(shift, x)[..., 0, :, :, :], 1.0)
    return hsv_to_rgb(torch.stack([h, s, v], dim=-4))


_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def draw_jitter_params(
    n: int,
    T: int,
    generator: torch.Generator,
    *,
    strength: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    consistent: bool = False,
) -> JitterParams:
    """Draw ColorJitter factors for n clips of T frames, as torchvision's ColorJitter.

    brightness, contrast, saturation ~ U[max(0, 1 - s), 1 + s]; hue ~ U[-s, s]. Literal MSCL
    (kornia under 'batch' sync) draws them per frame (docs/mscl.md §8.6); ``consistent=True``
    draws one set per clip and repeats it over the T frames. The op order is one random
    permutation per call (as kornia), i.e. per clip when called on one clip.
    """
    frames = 1 if consistent else T
    lo = torch.tensor([max(0.0, 1 - s) for s in strength[:3]] + [-strength[3]])
    hi = torch.tensor([1 + s for s in strength[:3]] + [strength[3]])
    u = torch.rand(4, n, frames, generator=generator)
    f = (lo[:, None, None] + (hi - lo)[:, None, None] * u).expand(4, n, T)  # (4, n, T)
    return JitterParams(*f, order=torch.randperm(4, generator=generator))


def color_jitter(x: torch.Tensor, params: JitterParams) -> torch.Tensor:
    """Apply brightness / contrast / saturation / hue in ``params.order``.

    Args:
        x: (..., 3, T, H, W) in [0, 1]; params: factors with shape ``x.shape[:-4] + (T,)``.
    Returns:
        (..., 3, T, H, W) in [0, 1].
    """
    for i in params.order.tolist():
        x = _JITTER_OPS[i](x, params[i])
    return x


# --------------------------------------------------------------------------- blur, normalise


def blur_kernel_size(crop_size: int) -> int:
    """Odd kernel size ~ 10% of the crop: int(0.1 * crop) // 2 * 2 + 1 (11 for 112)."""
    return int(0.1 * crop_size) // 2 * 2 + 1


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding, one sigma per clip (all frames).

    Args:
        x: (..., C, T, H, W); sigma: shape ``x.shape[:-4]``, pixels; kernel_size: odd.
    Returns:
        same shape as ``x``.
    """
    if kernel_size == 1:
        return x
    C, T, H, W = x.shape[-4:]
    offs = torch.arange(kernel_size, device=x.device, dtype=x.dtype) - kernel_size // 2
    s = sigma.reshape(-1, 1).to(x.device, x.dtype)
    k = torch.softmax(-(offs**2) / (2 * s**2), dim=-1)  # (N, k): exp(-d^2 / 2s^2), normalised
    k = k.repeat_interleave(C * T, dim=0)[:, None]  # (N*C*T, 1, k): one filter per plane
    pad = kernel_size // 2
    flat = F.pad(x.reshape(1, -1, H, W), (pad, pad, pad, pad), mode="reflect")
    flat = F.conv2d(flat, k[:, :, None, :], groups=k.shape[0])  # along W
    flat = F.conv2d(flat, k[:, :, :, None], groups=k.shape[0])  # along H
    return flat.reshape(x.shape)


def normalize(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """(x - mean) / std per channel. x: (..., 3, T, H, W) -> same shape."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype)[:, None, None, None]
    sd = torch.tensor(std, device=x.device, dtype=x.dtype)[:, None, None, None]
    return (x - m) / sd


# --------------------------------------------------------------------------- composed


def color_augment(
    rgb: torch.Tensor,
    generator: torch.Generator,
    *,
    p_jitter: float = 0.8,
    strength: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    p_gray: float = 0.2,
    p_blur: float = 0.5,
    sigma: tuple[float, float] = (0.1, 2.0),
    kernel_size: int | None = None,
    consistent: bool = False,
) -> torch.Tensor:
    """MSCL's RGB augmentation of one view: jitter, grayscale, blur, ImageNet normalisation.

    Apply/not decisions and the blur sigma are drawn per clip and shared by its T frames
    (docs/mscl.md §2.4); jitter factors per frame unless ``consistent``.

    Args:
        rgb: (..., 3, T, H, W) float in [0, 1].
        strength: ColorJitter (brightness, contrast, saturation, hue).
        kernel_size: blur kernel; default :func:`blur_kernel_size` of the crop width.
    Returns:
        (..., 3, T, H, W) normalised, same dtype and device.
    """
    lead, T = rgb.shape[:-4], rgb.shape[-3]
    n = math.prod(lead)
    x = rgb.reshape(n, *rgb.shape[-4:])  # (n, 3, T, H, W)
    do = torch.rand(3, n, generator=generator) < torch.tensor([[p_jitter], [p_gray], [p_blur]])
    jitter = draw_jitter_params(n, T, generator, strength=strength, consistent=consistent)
    s = torch.empty(n).uniform_(*sigma, generator=generator)
    x = torch.where(_clip(do[0], x), color_jitter(x, jitter), x)
    x = torch.where(_clip(do[1], x), luma(x).expand_as(x), x)
    k = blur_kernel_size(x.shape[-1]) if kernel_size is None else kernel_size
    x = torch.where(_clip(do[2], x), gaussian_blur(x, s, k), x)
    return normalize(x).reshape(rgb.shape)
