"""Clip index arithmetic in flow-index units (docs/mscl.md §2.1, §2.2).

Flow j is computed between stored RGB frames ``j*step`` and ``j*step + offset``; after this
alignment RGB frame ``j*step`` and flow j share index j, and a video is L = ``num_flows`` long.
A clip is ``clip_len`` indices ``interval`` apart, wrapping around the video end ("loop").
Randomness comes only from the ``np.random.Generator`` passed in.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def num_flows(num_frames: int, offset: int, step: int) -> int:
    """Number of flow fields of a video: ``len(range(0, num_frames - offset, step))``.

    Args:
        num_frames: stored RGB frames.
        offset: frame gap of each flow pair (8 in MSCL).
        step: frames between consecutive flow pairs (2 in MSCL).

    Returns:
        L >= 0; 0 when the video has no more than ``offset`` frames.
    """
    return len(range(0, num_frames - offset, step))


def rgb_index(j: int | np.ndarray, step: int) -> int | np.ndarray:
    """Stored RGB frame paired with flow index ``j`` (the first frame of its pair): ``j*step``."""
    return j * step


def clip_indices(start: int, clip_len: int, interval: int, L: int) -> np.ndarray:
    """Flow indices of one clip, wrapped modulo the video length.

    Args:
        start: first index, in [0, L).
        clip_len: frames in the clip.
        interval: index step between the clip's frames.
        L: number of flow indices of the video (>= 1).

    Returns:
        (clip_len,) int64 ``(start + interval*k) % L`` for k = 0..clip_len-1.
    """
    if L < 1:
        raise ValueError(f"a video needs at least one flow index to cut a clip, got L={L}")
    return (start + interval * np.arange(clip_len, dtype=np.int64)) % L


def sample_query_start(
    rng: np.random.Generator,
    L: int,
    clip_len: int,
    interval: int,
    kept: Sequence[int] | np.ndarray,
    retries: int = 10,
) -> int:
    """Query clip start: uniform, re-drawn until it is an MDS-kept start (docs/mscl.md §2.2).

    Args:
        rng: random generator.
        L: number of flow indices of the video.
        clip_len, interval: clip shape; a clip spans ``clip_len*interval`` indices.
        kept: kept starts from MDS, increasing.
        retries: extra draws after the first one.

    Returns:
        A start drawn uniformly from [0, L - clip_len*interval] (0 when the clip does not fit),
        kept if any of the ``1 + retries`` draws is; otherwise ``kept[0]``, or 0 if nothing
        is kept.
    """
    high = L - clip_len * interval               # last start whose clip ends inside the video
    allowed = {int(k) for k in kept}
    for _ in range(1 + retries):
        start = int(rng.integers(0, high + 1)) if high >= 0 else 0
        if start in allowed:
            return start
    return int(kept[0]) if len(kept) else 0


KEY_START_RULES = ("released", "nearest")


def sample_key_start(
    rng: np.random.Generator,
    q_start: int,
    kept: Sequence[int] | np.ndarray,
    shift: int,
    rule: str = "released",
) -> int:
    """Key clip start: a kept start near a random shift of the query (docs/mscl.md §2.2, §8.14).

    The target is ``q_start + s``, s ~ UniformInt[-shift, shift]. Both rules start from the
    candidate 0, which can win even when it was not kept, as in the reference.

    * ``released``: the reference loop, literally. ``best = 0``; for each kept start c in order,
      ``best = c`` when ``|c - target| < |c - best|``. It compares c with the current best, not
      the best with the target, so it often differs from the nearest kept start, and a target
      beyond ``2 * max(kept)`` gives 0.
    * ``nearest``: the candidate in ``[0] + kept`` nearest to the target; ties go to the earlier
      candidate (0 first, then the smaller kept start).

    Args:
        rng: random generator.
        q_start: query clip start.
        kept: kept starts from MDS, increasing.
        shift: largest shift (MSCL: ``clip_len*interval`` = 64).
        rule: ``released`` or ``nearest``.
    Returns:
        0 or a kept start.
    """
    if rule not in KEY_START_RULES:
        raise ValueError(f"key start rule must be one of {KEY_START_RULES}, got {rule!r}")
    target = q_start + int(rng.integers(-shift, shift + 1))
    if rule == "released":
        best = 0
        for c in np.asarray(kept, dtype=np.int64).tolist():
            if abs(c - target) < abs(c - best):
                best = c
        return best
    candidates = np.concatenate([[0], np.asarray(kept, dtype=np.int64)])
    return int(candidates[np.argmin(np.abs(candidates - target))])   # argmin: first of ties


def sample_two_starts(rng: np.random.Generator, L: int, clip_len: int, interval: int) -> tuple[int, int]:
    """Two different clip starts drawn independently from the whole video (DCLR's release:
    two distinct clips of each video, each anywhere in it).

    Args:
        rng: random generator.
        L: positions of the video; clip_len, interval: clip shape (it spans ``clip_len*interval``).
    Returns:
        (q, k), two different starts uniform over [0, L - clip_len*interval]; (0, 0) when only
        one clip fits (the clips then wrap around the video end, as :func:`clip_indices` does).
    """
    n = L - clip_len * interval + 1  # starts whose clip ends inside the video
    if n < 2:
        return 0, 0
    q, k = rng.choice(n, size=2, replace=False)
    return int(q), int(k)
