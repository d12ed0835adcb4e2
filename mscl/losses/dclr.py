"""The DCLR objective (docs/dclr.md): activation-map pooling and five named InfoNCE terms.

A clip is seen three ways by one backbone: the augmented RGB clip V, its static view S (one frame
repeated) and its dynamic view D (frame differences of V). Five embeddings ("streams") come from
their layer-4 maps: ``vv`` (V, average-pooled), ``vs`` and ``vd`` (V pooled with the weights of
where S and D activate), ``s`` and ``d`` (S and D, average-pooled). Every term contrasts a
stream of the query clip with a stream of the other (key) clip; its negatives are the queue of
the key stream, so each stream has one queue.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from mscl.losses.infonce import cross_entropy_top1, full_precision, nce_logits, top1
from mscl.losses.objective import NceTerm

STREAMS = ("vv", "vs", "vd", "s", "d")
TERMS = {
    "dclr_vv": NceTerm("vv", "vv", "vv"),  # RGB of one clip -> RGB of the other
    "dclr_vs": NceTerm("vs", "s", "s"),    # static-weighted RGB -> static view
    "dclr_sv": NceTerm("s", "vs", "vs"),   # static view -> static-weighted RGB
    "dclr_vd": NceTerm("vd", "d", "d"),    # dynamic-weighted RGB -> dynamic view
    "dclr_dv": NceTerm("d", "vd", "vd"),   # dynamic view -> dynamic-weighted RGB
}
# which neighbours of the query's own views count as extra positives (``topk`` > 0)
NEIGHBOURS = {"dclr_vv": "both", "dclr_vs": "static", "dclr_sv": "static", "dclr_vd": "dynamic", "dclr_dv": "dynamic"}


def active_dclr_terms(weights: Mapping[str, float]) -> dict[str, float]:
    """The terms with weight > 0, in :data:`TERMS` order (a missing name counts as 0)."""
    unknown = set(weights) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown DCLR terms {sorted(unknown)}; known: {list(TERMS)}")
    if any(w < 0 for w in weights.values()):
        raise ValueError(f"DCLR loss weights must be >= 0, got {dict(weights)}")
    active = {name: float(weights[name]) for name in TERMS if weights.get(name, 0.0) > 0}
    if not active:
        raise ValueError("every DCLR loss term is disabled")
    return active


def dynamic_view(clip: Tensor, *, wrap: bool = False) -> Tensor:
    """Frame differences of a clip: D[t] = V[t] - V[t-1].

    Args:
        clip: (B, C, T, H, W), already augmented and normalised.
        wrap: D[0] = V[0] - V[T-1] (the released code's circular difference); False sets D[0] = 0,
            so no frame of D compares the clip's two ends.
    Returns:
        (B, C, T, H, W).
    """
    previous = torch.roll(clip, shifts=1, dims=2)
    d = clip - previous
    if not wrap:
        d[:, :, 0] = 0
    return d


def activation_weights(maps: Tensor) -> Tensor:
    """Where a view activates: channel sums of its (post-ReLU) maps divided by their mean.

    Args:
        maps: (B, C, T, H, W) layer-4 maps.
    Returns:
        (B, 1, T, H, W) non-negative, mean 1 over the T*H*W positions of each sample (a map
        that is zero everywhere gives zeros).
    """
    a = maps.float().sum(dim=1, keepdim=True)
    return a / a.mean(dim=(2, 3, 4), keepdim=True).clamp_min(1e-12)


def weighted_pool(maps: Tensor, weights: Tensor) -> Tensor:
    """Average pooling of ``maps`` (B, C, T, H, W) with per-position ``weights`` (B, 1, T, H, W):
    (B, C) = mean over positions of maps * weights (with mean-1 weights, a weighted average)."""
    return (maps * weights.to(maps.dtype)).mean(dim=(2, 3, 4))


def multi_positive_nce(q: Tensor, k: Tensor, negatives: Tensor, temperature: float,
                       extra: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """InfoNCE whose positives are the key and, optionally, some queue entries.

    Args:
        q, k: (B, D) query and positive key. negatives: (D, K) queue.
        extra: (B, n) indices into the queue's K columns counted as further positives
            (None or n = 0: plain InfoNCE).
    Returns:
        mean over the batch of -log(sum of the positives' softmax probabilities), and the
        contrastive top-1 (the key scores above every queue entry; detached).
    """
    logits, labels = nce_logits(q, k, negatives, temperature)
    if extra is None or extra.shape[1] == 0:
        return cross_entropy_top1(logits, labels)
    with full_precision(logits):
        positives = torch.cat([logits[:, :1], logits.gather(1, extra + 1)], dim=1)
        loss = (torch.logsumexp(logits, dim=1) - torch.logsumexp(positives, dim=1)).mean()
    return loss, top1(logits, labels)


def neighbour_positives(static_q: Tensor, dynamic_q: Tensor, bank_s: Tensor, bank_d: Tensor,
                        topk: int) -> dict[str, Tensor]:
    """Queue slots most like the query clip's own static and dynamic views (released top-k mining).

    All queues are written in step, so slot j of every queue holds the same earlier sample.
    Args:
        static_q, dynamic_q: (B, D) L2-normalised key-encoder embeddings of the query clip's S and D.
        bank_s, bank_d: (D, K) queues of earlier key clips' S and D embeddings.
    Returns:
        {"static", "dynamic", "both"}: (B, topk) slot indices ranked by p_s = softmax(static_q
        bank_s), by p_d = softmax(dynamic_q bank_d), and by p_s + p_d. As released the softmax has
        no temperature: over cosines in [-1, 1] both are flat, so the sum ranks a slot by both
        similarities together (at the InfoNCE temperature the sharper one would decide alone).
    """
    with full_precision(static_q):
        p_s = torch.softmax(static_q.float() @ bank_s.float(), dim=1)  # (B, K)
        p_d = torch.softmax(dynamic_q.float() @ bank_d.float(), dim=1)
    return {"static": p_s.topk(topk, dim=1).indices, "dynamic": p_d.topk(topk, dim=1).indices,
            "both": (p_s + p_d).topk(topk, dim=1).indices}
