"""Motion Differential Sampling: from per-frame scores to kept clip starts (docs/mscl.md §4,
steps 5-6).

The per-frame scores s_j come from :func:`mscl.flow.motion.frame_differential_scores`; here they
are summed over the frames a clip would cover and the clips in the upper half are kept.
"""
from __future__ import annotations

import numpy as np


def clip_scores(s: np.ndarray, clip_len: int = 8, stride: int = 4) -> np.ndarray:
    """Score of the clip starting at every flow index (§4 step 5).

    Args:
        s: (L,) per-frame differential scores.
        clip_len: frames per clip.
        stride: flow-index step between a clip's frames (4 in MSCL's MDS, see docs/mscl.md
            §8.7).

    Returns:
        (L,) c_i = (1/clip_len) * sum_{k < clip_len, i + stride*k < L} s_{i + stride*k}.
        Frames past the end are left out but the divisor stays clip_len, as in the reference,
        so clips near the end of a video score lower.
    """
    s = np.asarray(s, dtype=np.float64)
    L = len(s)
    c = np.zeros(L)
    for k in range(clip_len):
        if stride * k >= L:
            break   # c[:L - stride*k] would wrap to the front for a negative bound
        c[: L - stride * k] += s[stride * k:]
    return c / clip_len


def motion_differential_sampling(c: np.ndarray) -> np.ndarray:
    """Clip starts whose score is strictly above the median of the video (§4 step 6).

    Args:
        c: (L,) clip scores from :func:`clip_scores`.

    Returns:
        (K,) int64 kept start indices in increasing order, K <= L // 2 (fewer with ties at
        the median). A static video (all scores equal) keeps nothing, exactly as the
        reference; the samplers in :mod:`mscl.sampling.clips` then fall back to start 0.
    """
    c = np.asarray(c, dtype=np.float64)
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(c > np.median(c)).astype(np.int64)
