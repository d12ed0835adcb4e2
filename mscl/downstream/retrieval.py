"""Nearest-neighbour video retrieval on feature matrices (docs/mscl.md §6.2): pure functions.

Test videos are queries, train videos the gallery. Each set is centred by its own mean and
L2-normalised, so the similarity is a cosine between centred features; a query scores a hit at
k when any of its k nearest train videos has its class.
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

RECALL_KS = (1, 5, 10, 20, 50)


def center_l2(x: Tensor) -> Tensor:
    """Subtract the set's mean feature, then L2-normalise every row. x: (N, D) -> (N, D) float32."""
    x = x.float()
    return F.normalize(x - x.mean(dim=0, keepdim=True), dim=1)


def similarity(query: Tensor, gallery: Tensor) -> Tensor:
    """Cosine similarity of centred features. query (Nq, D), gallery (Ng, D) -> (Nq, Ng)."""
    return center_l2(query) @ center_l2(gallery).T


def nearest_neighbours(sim: Tensor, k: int) -> Tensor:
    """Gallery indices of the k most similar items per query, best first.

    Args:
        sim: (Nq, Ng). k: clipped to Ng.
    Returns:
        (Nq, min(k, Ng)) long.
    """
    return sim.topk(min(k, sim.shape[1]), dim=1).indices


def recall_at_k(sim: Tensor, query_labels: Tensor, gallery_labels: Tensor,
                ks: Sequence[int] = RECALL_KS) -> dict[int, float]:
    """Fraction of queries with a same-class item among their k nearest gallery items.

    Args:
        sim: (Nq, Ng) similarities; query_labels (Nq,), gallery_labels (Ng,) long.
        ks: a k larger than the gallery counts the whole gallery.
    Returns:
        {k: recall in [0, 1]}.
    """
    nn_labels = gallery_labels[nearest_neighbours(sim, max(ks))]  # (Nq, k_max)
    hit = nn_labels == query_labels[:, None]  # (Nq, k_max)
    return {k: hit[:, :k].any(dim=1).float().mean().item() for k in ks}
