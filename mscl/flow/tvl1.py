"""TV-L1 optical flow with OpenCV's ``DualTVL1OpticalFlow``, and the shared RGB -> gray step.

Both backends (this one and :mod:`mscl.flow.tvl1_torch`) read grayscale frames made by
:func:`to_gray`, so they see bit-identical inputs. ``cv2`` is imported inside the functions
that need it: the module imports on machines without OpenCV.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mscl.params import FlowParams

# OpenCV's fixed-point luma for 8-bit RGB -> gray: 0.299 R + 0.587 G + 0.114 B scaled by 2**15.
# These are the integers cv2.COLOR_RGB2GRAY uses, so the result matches it bit for bit.
LUMA_WEIGHTS = (9798, 19235, 3735)
LUMA_SHIFT = 15


def to_gray(frames):
    """Convert RGB frames to gray exactly as ``cv2.cvtColor(..., COLOR_RGB2GRAY)`` does.

    Args:
        frames: ``(..., H, W, 3)`` uint8 RGB, a numpy array or a torch tensor (any device).
    Returns:
        ``(..., H, W)`` uint8 of the same kind (and device) as ``frames``.
    """
    numpy_in = isinstance(frames, np.ndarray)
    rgb = frames.astype(np.int32) if numpy_in else frames.int()
    wr, wg, wb = LUMA_WEIGHTS
    y = (rgb[..., 0] * wr + rgb[..., 1] * wg + rgb[..., 2] * wb + (1 << (LUMA_SHIFT - 1))) >> LUMA_SHIFT
    return y.astype(np.uint8) if numpy_in else y.byte()


def opencv_tvl1(p: FlowParams):
    """Build a ``cv2.optflow.DualTVL1OpticalFlow`` configured from every TV-L1 field of ``p``."""
    import cv2

    # Keyword names are OpenCV's own (including its spelling "innnerIterations").
    return cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p.tau,
        lambda_=p.lambda_,
        theta=p.theta,
        nscales=p.scales,
        warps=p.warps,
        epsilon=p.epsilon,
        innnerIterations=p.inner_iterations,
        outerIterations=p.outer_iterations,
        scaleStep=p.scale_step,
        gamma=p.gamma,
        medianFiltering=p.median_filtering,
        useInitialFlow=False,
    )


def tvl1_pairs_opencv(gray: np.ndarray, pairs: Sequence[tuple[int, int]], p: FlowParams) -> np.ndarray:
    """TV-L1 flow from frame ``i`` to frame ``j`` for every ``(i, j)`` in ``pairs``, one at a time.

    Args:
        gray: ``(T, H, W)`` uint8 grayscale frames (from :func:`to_gray`).
        pairs: ``N`` index pairs ``(i, j)`` into ``gray``.
        p: flow params; the TV-L1 fields configure the solver.
    Returns:
        ``(N, H, W, 2)`` float32 flow in pixels, channel 0 = u (x), 1 = v (y), such that
        ``gray[i](x) ~ gray[j](x + flow(x))``.
    """
    solver = opencv_tvl1(p)
    _, H, W = gray.shape
    out = np.empty((len(pairs), H, W, 2), np.float32)
    for n, (i, j) in enumerate(pairs):
        out[n] = solver.calc(gray[i], gray[j], None)
    return out
