"""Batched TV-L1 optical flow in PyTorch: OpenCV's ``DualTVL1OpticalFlow`` on many pairs at once.

The algorithm is the duality-based TV-L1 of Zach, Pock and Bischof (2007) as described by
Sanchez, Meinhardt-Llopis and Facciolo (IPOL 2013), with OpenCV's choices: a pyramid built by
repeated bilinear resizing by ``scale_step`` (coarsest side >= 16 px), bicubic warping with
zeros outside the image, a median filter of the flow at the start of every outer iteration,
and a stopping rule on the squared flow update. Every pair of a batch keeps its own stopping
state, so a batch returns what the pairs would give one at a time; pairs that have stopped are
dropped from the batch until the next warp. Imports neither cv2 nor av.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from mscl.dist import resolve_device
from mscl.flow.tvl1_ops import centered_gradient, linearize, median_filter_active, primal_dual_step, resize_linear
from mscl.params import FlowParams


def image_pyramid(img: Tensor, p: FlowParams) -> list[Tensor]:
    """Finest-first pyramid of ``(B, H, W)`` images, shrunk by ``p.scale_step`` per level.

    Sizes are ``round(side * scale_step)`` of the previous level; the pyramid stops before a
    level with a side under 16 px or after ``p.scales`` levels, as in OpenCV.
    """
    levels = [img]
    for _ in range(1, p.scales):
        H, W = levels[-1].shape[-2:]
        h, w = round(H * p.scale_step), round(W * p.scale_step)
        if h < 16 or w < 16:
            break
        step = 1.0 / p.scale_step
        levels.append(resize_linear(levels[-1], (h, w), (step, step)))
    return levels


def upsample_flow(u: Tensor, size: tuple[int, int], scale_step: float) -> Tensor:
    """Resize flow ``(B, C, h, w)`` to ``size`` and rescale its (u, v) channels by ``1 / scale_step``."""
    (H, W), (h, w) = size, u.shape[-2:]
    up = resize_linear(u, size, (h / H, w / W))  # (B, C, H, W)
    # The illumination channel (C = 3) is not a displacement and keeps its values.
    return torch.cat((up[:, :2] / scale_step, up[:, 2:]), dim=1)


class _Kernels(NamedTuple):
    """The per-warp, per-outer-iteration and inner-loop steps of :func:`solve_scale`."""

    linearize: Callable
    median: Callable
    step: Callable


@functools.cache
def _kernels(compile: bool) -> _Kernels:
    if not compile:
        return _Kernels(linearize, median_filter_active, primal_dual_step)
    # Shape-generic kernels: all pyramid levels and batch sizes share a few compilations (a
    # batch of one pair gets its own) instead of one per shape; memory-bound stencils gain
    # little from static shapes.
    return _Kernels(*(torch.compile(f, dynamic=True) for f in (linearize, median_filter_active, primal_dual_step)))


def solve_scale(I0: Tensor, I1: Tensor, u: Tensor, p: FlowParams, *, compile: bool, check_every: int) -> Tensor:
    """Refine flow ``u`` ``(B, C, H, W)`` on one pyramid level of ``I0``, ``I1`` ``(B, H, W)``."""
    B, C, H, W = u.shape
    k = _kernels(compile)
    # A tensor, not a float: the level-dependent threshold must not specialise compiled code.
    eps = torch.tensor(p.epsilon**2 * H * W, device=u.device)
    Ix, Iy = centered_gradient(I1)
    dual = u.new_zeros(B, C, 2, H, W)  # reset once per level, kept across warps (as OpenCV)
    for _ in range(p.warps):
        data = k.linearize(I0, I1, Ix, Iy, u, mode=p.interpolation, gamma=p.gamma)
        u, dual = iterate_warp(u, dual, data, p, k, eps=eps, check_every=check_every)
    return u


def iterate_warp(u: Tensor, dual: Tensor, data: tuple[Tensor, ...], p: FlowParams, k: _Kernels, *,
                 eps: Tensor, check_every: int) -> tuple[Tensor, Tensor]:
    """Outer (median filter) and inner (primal-dual) iterations of one warp, each pair until it stops.

    Every ``check_every`` iterations the host reads how many pairs still iterate; once half of
    them have stopped, the batch shrinks to the others, so the slowest pair of a batch does not
    keep the whole batch busy. Returns the updated ``(u, dual)`` of the full batch.
    """
    consts = dict(l_t=p.lambda_ * p.theta, theta=p.theta, taut=p.tau / p.theta)
    full_u, full_dual, rows = u, dual, None  # rows: indices of the iterated pairs in the batch
    active = torch.ones(len(u), dtype=torch.bool, device=u.device)
    for _ in range(p.outer_iterations):
        if p.median_filtering > 1:
            u = k.median(u, active, p.median_filtering)
        for start in range(0, p.inner_iterations, check_every):
            for _ in range(min(check_every, p.inner_iterations - start)):
                u, dual, active = k.step(u, dual, active, *data, eps=eps, **consts)
            running = int(active.sum())  # the only host sync of the loop
            if running == 0:
                break
            if running <= len(active) // 2:
                full_u, full_dual = _write_back(full_u, full_dual, rows, u, dual)
                keep = active.nonzero()[:, 0]
                rows = keep if rows is None else rows[keep]
                u, dual, active, data = u[keep], dual[keep], active[keep], tuple(t[keep] for t in data)
        if running == 0:
            break
    return _write_back(full_u, full_dual, rows, u, dual)


def _write_back(full_u: Tensor, full_dual: Tensor, rows: Tensor | None, u: Tensor, dual: Tensor):
    """Put the iterated pairs ``rows`` (all when None) back into the full batch."""
    if rows is None:
        return u, dual
    return full_u.index_copy(0, rows, u), full_dual.index_copy(0, rows, dual)


def tvl1_torch(
    I0: Tensor, I1: Tensor, p: FlowParams, *, compile: bool = False, check_every: int | None = None
) -> Tensor:
    """TV-L1 flow from ``I0`` to ``I1`` for a batch of grayscale pairs.

    Args:
        I0, I1: ``(N, H, W)`` grayscale in [0, 255] (uint8, or float on that scale), any device.
        p: flow params (TV-L1 fields, ``interpolation`` of the warping).
        compile: run the warping, median filter and primal-dual iteration through ``torch.compile``
            (worth it on GPU; the first call compiles for minutes on a small CPU).
        check_every: iterations between reads of how many pairs still iterate. Pairs that stop
            in between still cost compute until the next read (7% more work at 5, 14% at 10);
            each read is a host sync. ``None``: 1 on CPU, where syncs are free, else 5.
    Returns:
        ``(N, 2, H, W)`` float32 flow in pixels on ``I0.device`` (channel 0 = u, 1 = v), such
        that ``I0(x) ~ I1(x + flow(x))``.
    """
    if check_every is None:
        check_every = 1 if I0.device.type == "cpu" else 5
    I0s = image_pyramid(I0.float(), p)
    I1s = image_pyramid(I1.float(), p)
    N, (h, w) = I0.shape[0], I0s[-1].shape[-2:]
    # A third channel carries the illumination variable of the gamma term (OpenCV's u3).
    u = I0s[0].new_zeros(N, 3 if p.gamma != 0 else 2, h, w)
    for s in range(len(I0s) - 1, -1, -1):
        u = solve_scale(I0s[s], I1s[s], u, p, compile=compile, check_every=check_every)
        if s > 0:
            u = upsample_flow(u, I0s[s - 1].shape[-2:], p.scale_step)
    return u[:, :2].contiguous()


def tvl1_pairs_torch(
    gray: np.ndarray | Tensor, pairs: Sequence[tuple[int, int]], p: FlowParams,
    device: str | torch.device | None = None, *, compile: bool = False,
) -> np.ndarray:
    """TV-L1 flow from frame ``i`` to frame ``j`` for every ``(i, j)``, ``p.batch_pairs`` at a time.

    Args:
        gray: ``(T, H, W)`` uint8 grayscale frames (from :func:`mscl.flow.tvl1.to_gray`).
        pairs: ``N`` index pairs ``(i, j)``.
        device: where to compute; ``None`` uses ``p.device``.
    Returns:
        ``(N, H, W, 2)`` float32 flow in pixels (same contract as ``tvl1_pairs_opencv``).
    """
    dev = resolve_device(p.device) if device is None else torch.device(device)
    frames = torch.as_tensor(gray).to(dev)  # (T, H, W) uint8; converted to float per batch
    out = np.empty((len(pairs), *frames.shape[1:], 2), np.float32)
    for start in range(0, len(pairs), p.batch_pairs):
        chunk = torch.as_tensor(pairs[start : start + p.batch_pairs], device=dev).reshape(-1, 2)  # (n, 2)
        flow = tvl1_torch(frames[chunk[:, 0]], frames[chunk[:, 1]], p, compile=compile)  # (n, 2, H, W)
        out[start : start + len(chunk)] = flow.permute(0, 2, 3, 1).cpu().numpy()
    return out
