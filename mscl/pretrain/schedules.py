"""Per-iteration schedules as precomputed arrays, indexed by the global step."""
from __future__ import annotations

import numpy as np


def cosine_lr(
    base_lr: float, total_iters: int, *, warmup_iters: int = 0, warmup_ratio: float = 0.1,
    min_lr: float = 0.0,
) -> np.ndarray:
    """Cosine annealing from ``base_lr`` to ``min_lr`` with a linear warmup (docs/mscl.md §5, §8.1).

    The cosine runs over all iterations, warmup included; during the first ``warmup_iters`` it is
    multiplied by a factor rising linearly from ``warmup_ratio`` to 1 (mmcv's 'linear' warmup).

    Returns:
        (total_iters,) float64; lr[i] = warm(i) * (min + (base - min) * (1 + cos(pi i / N)) / 2).
    """
    if total_iters < 1 or not 0 <= warmup_iters <= total_iters:
        raise ValueError(f"need 0 <= warmup_iters ({warmup_iters}) <= total_iters ({total_iters}), total >= 1")
    i = np.arange(total_iters)
    lr = min_lr + 0.5 * (base_lr - min_lr) * (1.0 + np.cos(np.pi * i / total_iters))
    if warmup_iters:
        k = (1.0 - i[:warmup_iters] / warmup_iters) * (1.0 - warmup_ratio)
        lr[:warmup_iters] *= 1.0 - k
    assert lr.shape == (total_iters,)
    return lr


def cosine_momentum(base_m: float, total_iters: int, *, rate: float = 1.0) -> np.ndarray:
    """Key-encoder momentum rising from ``base_m`` to 1 on a half cosine (docs/mscl.md §3.1).

    m[i] = 1 - (1 - base_m) * (cos(pi f) + 1) / 2 with f = min(rate * i / N, 1). ``rate=2``
    reproduces the released flow branch, whose schedule advances twice per step and reaches 1
    halfway through training (docs/mscl.md §8.3).

    Returns:
        (total_iters,) float64, non-decreasing.
    """
    if total_iters < 1 or rate <= 0:
        raise ValueError(f"need total_iters >= 1 and rate > 0, got {total_iters}, {rate}")
    f = np.minimum(rate * np.arange(total_iters) / total_iters, 1.0)
    m = 1.0 - 0.5 * (1.0 - base_m) * (np.cos(np.pi * f) + 1.0)
    assert m.shape == (total_iters,)
    return m


def step_lr(base_lr: float, total_iters: int, milestones: tuple[float, ...], *, gamma: float = 0.1) -> np.ndarray:
    """Piecewise-constant lr (DCLR's schedule: x0.1 at epochs 120 and 160 of 200).

    Args:
        milestones: fractions of training in [0, 1]; from iteration ``round(f * total_iters)`` on,
            the lr is multiplied by ``gamma`` once more.
    Returns:
        (total_iters,) float64; lr[i] = base * gamma ** (number of milestones reached at i).
    """
    if total_iters < 1:
        raise ValueError(f"need total_iters >= 1, got {total_iters}")
    i, reached = np.arange(total_iters), np.zeros(total_iters)
    for f in milestones:
        reached += i >= round(f * total_iters)
    return base_lr * gamma**reached
