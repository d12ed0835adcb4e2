"""Exact ``k x k`` median filter built from a min/max selection network.

A selection network is a fixed sequence of elementwise ``minimum``/``maximum`` operations on
the ``k * k`` shifted copies of the image, so ``torch.compile`` fuses the whole filter into one
kernel that reads each pixel once; even eagerly it beats ``unfold(...).median()``, which copies
``k * k`` values per pixel and sorts them.

The network is Batcher's odd-even merge sort on the next power of two of inputs, with the
padding inputs taken as ``+inf`` (comparators against them are no-ops or relabellings) and
every comparator that cannot reach the middle output removed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# (lo, hi, a, b): variables lo = min(a, b) and hi = max(a, b); None = that output is not needed.
Comparator = tuple[int | None, int | None, int, int]


def odd_even_merge_sort(n: int) -> list[tuple[int, int]]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of ``n = 2**m`` wires."""
    pairs, p = [], 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    # Compare only within the same block of 2p being merged.
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


_NETWORKS: dict[tuple[int, int], tuple[tuple[Comparator, ...], int]] = {}


def selection_network(n: int, rank: int) -> tuple[tuple[Comparator, ...], int]:
    """Comparators that leave the ``rank``-th smallest of ``n`` inputs in the returned variable.

    Inputs are variables ``0 .. n-1``; each comparator defines new variables. Built once per
    ``(n, rank)`` (a plain dict cache, which torch.compile traces without complaint).
    """
    if (n, rank) not in _NETWORKS:
        _NETWORKS[n, rank] = _build_selection_network(n, rank)
    return _NETWORKS[n, rank]


def _build_selection_network(n: int, rank: int) -> tuple[tuple[Comparator, ...], int]:
    size = 1 << (n - 1).bit_length()
    wires: list[int | None] = list(range(n)) + [None] * (size - n)  # None holds +inf
    ops, fresh = [], n
    for i, j in odd_even_merge_sort(size):
        a, b = wires[i], wires[j]
        if b is None:  # min(a, +inf) = a stays on wire i
            continue
        if a is None:  # the +inf moves up to wire j
            wires[i], wires[j] = b, None
            continue
        ops.append((fresh, fresh + 1, a, b))
        wires[i], wires[j] = fresh, fresh + 1
        fresh += 2
    needed, kept = {wires[rank]}, []
    for lo, hi, a, b in reversed(ops):  # backwards: keep what feeds the wanted output
        lo, hi = (lo if lo in needed else None), (hi if hi in needed else None)
        if lo is not None or hi is not None:
            kept.append((lo, hi, a, b))
            needed |= {a, b}
    return tuple(reversed(kept)), wires[rank]


def median_filter(x: Tensor, k: int) -> Tensor:
    """``k x k`` median of every channel of ``(B, C, H, W)`` with replicated borders, like ``cv2.medianBlur``.

    Args:
        x: ``(B, C, H, W)`` float.
        k: odd window side.
    Returns:
        ``(B, C, H, W)``.
    """
    if k % 2 != 1:
        raise ValueError(f"median window must be odd, got {k}")
    H, W = x.shape[-2:]
    r = k // 2
    pad = F.pad(x, (r, r, r, r), mode="replicate")
    values = {i * k + j: pad[..., i : i + H, j : j + W] for i in range(k) for j in range(k)}
    ops, out = selection_network(k * k, k * k // 2)
    for lo, hi, a, b in ops:
        if lo is not None:
            values[lo] = torch.minimum(values[a], values[b])
        if hi is not None:
            values[hi] = torch.maximum(values[a], values[b])
    return values[out]
