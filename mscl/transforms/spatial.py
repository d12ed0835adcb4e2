"""Crop, resize and flip applied identically to an RGB clip and its flow (docs/mscl.md §2.3).

Every function takes one clip ``(C, T, H, W)`` or a batch ``(B, C, T, H, W)``; per-clip
parameters (boxes, flip decisions) then have shape ``()`` / ``(4,)`` or ``(B,)`` / ``(B, 4)``.
A box is ``(top, left, height, width)`` in pixels (long). Randomness comes only from the
``generator`` argument, a CPU ``torch.Generator``: parameters are drawn on the CPU and moved to
the data's device, so the same call runs per clip in loader workers and per batch on a GPU.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Size = int | tuple[int, int]


def _pair(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _per_clip(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-clip values ``x.shape[:-4]`` -> broadcastable against ``x`` (trailing 4 dims of 1)."""
    p = torch.as_tensor(p, device=x.device)
    return p.reshape(p.shape + (1, 1, 1, 1))


# --------------------------------------------------------------------------- crop boxes


def _centre_fallback(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """The (h, w) of the largest centred box whose aspect w/h is clamped into ``ratio``."""
    aspect = width / height
    if aspect < ratio[0]:
        return round(width / ratio[0]), width
    if aspect > ratio[1]:
        return height, round(height * ratio[1])
    return height, width


def random_resized_crop_boxes(
    n: int,
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    tries: int = 10,
) -> torch.Tensor:
    """Draw ``n`` random-resized-crop boxes in a ``height x width`` frame.

    As torchvision's RandomResizedCrop: area ~ U[scale] * H * W, aspect w/h log-uniform in
    ``ratio``; a draw that does not fit is redrawn, and after ``tries`` misses the box is the
    centred one with its aspect clamped into ``ratio``. MSCL uses scale (0.2, 1) (docs/mscl.md
    §2.3, §8.11); the caller draws query and key boxes independently.

    Returns:
        (n, 4) long boxes (top, left, h, w).
    """
    draw = torch.empty(2, n, tries, dtype=torch.float64)
    area = height * width * draw[0].uniform_(*scale, generator=generator)  # (n, tries)
    log_r = draw[1].uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    w = (area * log_r.exp()).sqrt().round().long()
    h = (area / log_r.exp()).sqrt().round().long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.long().argmax(dim=1, keepdim=True)  # index of the first fitting try
    h, w, ok = h.gather(1, first)[:, 0], w.gather(1, first)[:, 0], fits.any(dim=1)
    fb_h, fb_w = _centre_fallback(height, width, ratio)
    h, w = torch.where(ok, h, fb_h), torch.where(ok, w, fb_w)
    u = torch.rand(n, 2, dtype=torch.float64, generator=generator)
    # floor(u * (count of positions)) is uniform over 0..H-h; fallback boxes stay centred
    top = torch.where(ok, (u[:, 0] * (height - h + 1)).long(), (height - h) // 2)
    left = torch.where(ok, (u[:, 1] * (width - w + 1)).long(), (width - w) // 2)
    return torch.stack([top, left, h, w], dim=1)


def center_crop_box(height: int, width: int, size: Size) -> torch.Tensor:
    """The centred ``size`` box of a ``height x width`` frame, as torchvision's CenterCrop.

    Returns:
        (4,) long box (top, left, h, w).
    """
    h, w = _pair(size)
    return torch.tensor([round((height - h) / 2), round((width - w) / 2), h, w])


def three_crop_boxes(height: int, width: int, size: int) -> torch.Tensor:
    """Three ``size x size`` boxes along the long side (start, centre, end): 3-crop testing.

    Returns:
        (3, 4) long boxes (top, left, h, w).
    """
    centre = center_crop_box(height, width, size)
    boxes = centre.repeat(3, 1)
    long_axis = 1 if width >= height else 0  # index of the coordinate that slides: left or top
    boxes[0, long_axis] = 0
    boxes[2, long_axis] = (width if long_axis else height) - size
    return boxes


# --------------------------------------------------------------------------- applying boxes


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: Size) -> torch.Tensor:
    """Crop every clip to its box and resize it to ``size`` (bilinear, no antialiasing).

    One box per clip, shared by all T frames. As cutting the box out and resizing it
    (torchvision's ``resized_crop``, OpenCV's ``resize`` of the box): ``align_corners=False``
    pixel-centre geometry inside the box, whose edge pixels are repeated where an enlarged box
    samples beyond them; a box of exactly ``size`` reproduces the plain slice.

    Args:
        x: (..., C, T, H, W) float.
        boxes: (..., 4) long (top, left, h, w), leading dims as ``x.shape[:-4]``.
        size: output (out_h, out_w) or an int for a square.
    Returns:
        (..., C, T, out_h, out_w), dtype of ``x``.
    """
    out_h, out_w = _pair(size)
    lead, (C, T, H, W) = x.shape[:-4], x.shape[-4:]
    dt = torch.promote_types(x.dtype, torch.float32)
    grid = _crop_grid(boxes.reshape(-1, 4), H, W, out_h, out_w, dt, x.device)
    flat = x.reshape(-1, C * T, H, W).to(dt)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(*lead, C, T, out_h, out_w).to(x.dtype)


def _crop_grid(boxes: torch.Tensor, H: int, W: int, out_h: int, out_w: int, dt: torch.dtype,
               device: torch.device) -> torch.Tensor:
    """``grid_sample`` grids (N, out_h, out_w, 2) of the boxes (N, 4) in an H x W image."""
    top, left, h, w = boxes.to(device, dt).unbind(-1)  # each (N,)
    j = torch.arange(out_w, device=device, dtype=dt) + 0.5
    i = torch.arange(out_h, device=device, dtype=dt) + 0.5
    # output pixel centre j -> input pixel centre left + j*w/out_w - 1/2, kept inside the box,
    # then normalised to [-1, 1]
    x = (left[:, None] + j * (w / out_w)[:, None] - 0.5).clamp(left[:, None], (left + w - 1)[:, None])
    y = (top[:, None] + i * (h / out_h)[:, None] - 0.5).clamp(top[:, None], (top + h - 1)[:, None])
    gx, gy = (2 * x + 1) / W - 1, (2 * y + 1) / H - 1  # (N, out_w), (N, out_h)
    return torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)


def box_slices(box: torch.Tensor) -> tuple[slice, slice]:
    """The rows and columns of a box (4,) (top, left, h, w): ``frame[rows, cols]`` is the box."""
    top, left, h, w = (int(v) for v in box)
    return slice(top, top + h), slice(left, left + w)


def resize_frames(frames: Sequence[np.ndarray], size: Size) -> np.ndarray:
    """Resize each frame (h, w, C) to ``size`` with OpenCV's bilinear ``resize``: (T, out_h, out_w, C)
    of the frames' dtype (uint8 rounded).

    Given the boxes of a clip's frames (``frame[rows, cols]`` views, :func:`box_slices`: no
    copy), this is :func:`resized_crop` of the clip, with the same geometry, computed per frame on
    the pixels the box holds and nothing else: float32 within ~1e-5 relative (float rounding),
    uint8 within one grey level (OpenCV's fixed-point weights). Several times cheaper on the CPU
    than ``grid_sample`` on the converted clip, and uint8 frames need no conversion at all.
    """
    import cv2  # lazily: the GPU image has no OpenCV, and this runs in loader workers only

    out_h, out_w = _pair(size)
    out = np.empty((len(frames), out_h, out_w, frames[0].shape[-1]), frames[0].dtype)
    for t, f in enumerate(frames):
        out[t] = cv2.resize(f, (out_w, out_h), interpolation=cv2.INTER_LINEAR).reshape(out.shape[1:])
    return out


def rescale_flow_vectors(flow: torch.Tensor, boxes: torch.Tensor, size: Size) -> torch.Tensor:
    """Scale flow vectors as their crop is resized: u * out_w / w, v * out_h / h.

    The physically consistent option; literal MSCL leaves the (max-normalised) values
    unchanged on resize (docs/mscl.md §8.16), so callers apply this only behind a flag.

    Args:
        flow: (..., 2, T, H, W); boxes: (..., 4) as for :func:`resized_crop`.
    Returns:
        (..., 2, T, H, W).
    """
    out_h, out_w = _pair(size)
    hw = boxes[..., 2:].to(flow.device, flow.dtype)  # (..., 2) = (h, w)
    factor = torch.stack([out_w / hw[..., 1], out_h / hw[..., 0]], dim=-1)  # (..., 2) = (u, v)
    return flow * factor[..., None, None, None]


def center_crop(x: torch.Tensor, size: Size) -> torch.Tensor:
    """Centre crop of every frame (evaluation). x: (..., C, T, H, W) -> (..., C, T, h, w)."""
    top, left, h, w = center_crop_box(x.shape[-2], x.shape[-1], size).tolist()
    return x[..., top : top + h, left : left + w]


def resize_short_side(x: torch.Tensor, side: int) -> torch.Tensor:
    """Resize every frame so its short side is ``side``, keeping the aspect (evaluation).

    Args:
        x: (..., C, T, H, W) float.
    Returns:
        (..., C, T, H', W') with min(H', W') == side.
    """
    H, W = x.shape[-2:]
    scale = side / min(H, W)
    out = (side, round(W * scale)) if H <= W else (round(H * scale), side)
    flat = x.reshape(-1, *x.shape[-3:])  # (N, T, H, W): frames play the role of channels
    y = F.interpolate(flat, size=out, mode="bilinear", align_corners=False, antialias=True)
    return y.reshape(*x.shape[:-2], *out)


# --------------------------------------------------------------------------- flips


def draw_flips(n: int, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """One horizontal-flip decision per clip (docs/mscl.md §2.3). Returns (n,) bool."""
    return torch.rand(n, generator=generator) < p


def horizontal_flip(x: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Mirror along W the clips whose decision is True.

    Args:
        x: (..., C, T, H, W); flips: bool with shape ``x.shape[:-4]``.
    Returns:
        same shape as ``x``.
    """
    if flips.dim() == 0 and flips.device.type == "cpu":  # one clip: flip it or not, no select
        return x.flip(-1) if bool(flips) else x
    return torch.where(_per_clip(flips, x), x.flip(-1), x)


def flip_flow(flow: torch.Tensor, flips: torch.Tensor, *, negate_u: bool = False) -> torch.Tensor:
    """Mirror flow clips along W; optionally negate u so that vectors follow the mirror.

    Literal MSCL (``negate_u=False``) flips the colour-coded flow image without touching the
    vectors (docs/mscl.md §8.5); colour coding is per pixel, so flipping the (u, v)
    field first and coding it afterwards gives the same picture. ``negate_u=True`` is the
    physically consistent flip: a rightward motion becomes a leftward one.

    Args:
        flow: (..., 2, T, H, W); flips: bool with shape ``flow.shape[:-4]``.
    Returns:
        same shape as ``flow``.
    """
    if flips.dim() == 0 and flips.device.type == "cpu" and not bool(flips):  # one clip, not flipped
        return flow
    mirrored = flow.flip(-1)
    if negate_u:
        sign = torch.tensor([-1.0, 1.0], device=flow.device, dtype=flow.dtype)
        mirrored = mirrored * sign[:, None, None, None]
    if flips.dim() == 0 and flips.device.type == "cpu":
        return mirrored
    return torch.where(_per_clip(flips, flow), mirrored, flow)


# --------------------------------------------------------------------------- composed


def draw_crop_flip(x: torch.Tensor | tuple[int, ...], generator: torch.Generator, *,
                   scale: tuple[float, float] = (0.2, 1.0), flip_p: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """One random resized crop box and one flip decision per clip of ``x`` (..., C, T, H, W), or
    of clips of that shape (only the shape is read).

    Returns:
        boxes (..., 4) and flips (...) bool, drawn in that order from ``generator``.
    """
    shape = tuple(x.shape if isinstance(x, torch.Tensor) else x)
    lead = shape[:-4]
    n = math.prod(lead)
    boxes = random_resized_crop_boxes(n, *shape[-2:], generator, scale=scale).reshape(*lead, 4)
    return boxes, draw_flips(n, generator, flip_p).reshape(lead)


def crop_flip_rgb_flow(
    rgb: torch.Tensor,
    flow: torch.Tensor,
    generator: torch.Generator,
    *,
    size: Size = 112,
    scale: tuple[float, float] = (0.2, 1.0),
    flip_p: float = 0.5,
    negate_u: bool = False,
    rescale_flow: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MSCL's spatial augmentation of one view: shared random resized crop, then shared flip.

    The reference composition; the pretraining data path applies the same draws in a cheaper
    order (:func:`mscl.data.pretrain.augment_view`, tested equal to this).

    The RGB clip and the flow of the same clip get the same box and the same flip decision
    (docs/mscl.md §2.3, §8.11); draw the query and key views with separate calls.

    Args:
        rgb: (..., 3, T, H, W); flow: (..., 2, T', H, W) (same H, W as ``rgb``).
        size: output crop size; scale: crop area range as a fraction of H * W.
        negate_u: negate u on flip (literal MSCL: False); rescale_flow: scale vectors with the
            resize (literal MSCL: False).
    Returns:
        rgb (..., 3, T, out_h, out_w), flow (..., 2, T', out_h, out_w).
    """
    assert rgb.shape[-2:] == flow.shape[-2:], "RGB and flow must share H, W to share a crop box"
    boxes, flips = draw_crop_flip(rgb, generator, scale=scale, flip_p=flip_p)
    rgb, flow = resized_crop(rgb, boxes, size), resized_crop(flow, boxes, size)
    if rescale_flow:
        flow = rescale_flow_vectors(flow, boxes, size)
    return horizontal_flip(rgb, flips), flip_flow(flow, flips, negate_u=negate_u)
