"""Selection-network median filter against sorting and ``cv2.medianBlur``."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from mscl.flow.median import median_filter, odd_even_merge_sort, selection_network

pytestmark = pytest.mark.usefixtures("single_thread")


def _run(ops, out, values):
    env = dict(enumerate(values))
    for lo, hi, a, b in ops:
        if lo is not None:
            env[lo] = min(env[a], env[b])
        if hi is not None:
            env[hi] = max(env[a], env[b])
    return env[out]


@pytest.mark.parametrize("n", [2, 4, 8])
def test_odd_even_merge_sort_sorts_every_zero_one_input(n):
    # 0-1 principle: a comparator network that sorts all 0/1 inputs sorts every input.
    for bits in itertools.product([0, 1], repeat=n):
        v = list(bits)
        for i, j in odd_even_merge_sort(n):
            if v[i] > v[j]:
                v[i], v[j] = v[j], v[i]
        assert v == sorted(v)


@pytest.mark.parametrize(("n", "rank"), [(9, 4), (25, 12), (7, 0), (7, 6), (6, 2)])
def test_selection_network_picks_the_rank(n, rank):
    ops, out = selection_network(n, rank)
    rng = np.random.default_rng(n)
    for _ in range(200):
        values = list(rng.integers(0, 5, n))  # many ties
        assert _run(ops, out, values) == sorted(values)[rank]


def test_pruned_network_is_smaller_than_the_sort():
    ops, _ = selection_network(25, 12)
    assert len(ops) < len(odd_even_merge_sort(32)) // 1.5


@pytest.mark.parametrize("k", [3, 5])
def test_median_filter_matches_cv2_median_blur(k):
    x = torch.from_numpy(np.random.default_rng(k).normal(0, 2, (2, 2, 19, 23)).astype(np.float32))
    x[0, 0, 5:9, 5:9] = 1.0  # a plateau: ties inside windows
    expected = np.stack([cv2.medianBlur(c, k) for c in x.reshape(-1, 19, 23).numpy()]).reshape(x.shape)
    np.testing.assert_array_equal(median_filter(x, k).numpy(), expected)


def test_median_filter_rejects_even_window():
    with pytest.raises(ValueError, match="odd"):
        median_filter(torch.zeros(1, 1, 8, 8), 4)
