"""InfoNCE with one positive key and a bank of negatives (MoCo form, docs/mscl.md §3).

Similarities, logits and the log-softmax are computed in float32 even inside a bf16 autocast
region (the released code trains in float32)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nce_logits(q: Tensor, k: Tensor, negatives: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Logits with the positive in column 0, and the matching labels.

    Args:
        q: (B, D) queries. k: (B, D) positive key of each query.
        negatives: (D, K) negative keys as columns (a queue, possibly age-decayed).
        temperature: T > 0.
    Returns:
        logits (B, 1+K) = [q.k, q.negatives] / T and labels (B,) of zeros.
    """
    with full_precision(q):
        q, k, negatives = q.float(), k.float(), negatives.float()
        l_pos = torch.einsum("bd,bd->b", q, k).unsqueeze(1)  # (B, 1)
        l_neg = q @ negatives  # (B, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / temperature  # (B, 1+K)
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return logits, labels


def info_nce(q: Tensor, k: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """Mean over the batch of -log softmax(logits)[positive]; see :func:`nce_logits`."""
    return info_nce_top1(q, k, negatives, temperature)[0]


def info_nce_top1(q: Tensor, k: Tensor, negatives: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """:func:`info_nce` and its contrastive top-1: the fraction of queries whose positive key
    scores above every negative (a detached scalar; chance is about 1 / (1 + K))."""
    logits, labels = nce_logits(q, k, negatives, temperature)
    return cross_entropy_top1(logits, labels)


def cross_entropy_top1(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy of (N, C) logits in float32, and the detached fraction of rows whose
    largest logit is the label's."""
    with full_precision(logits):
        loss = F.cross_entropy(logits.float(), labels)
    return loss, top1(logits, labels)


def top1(logits: Tensor, labels: Tensor) -> Tensor:
    """Detached fraction of rows of (N, C) ``logits`` whose largest logit is the label's."""
    return (logits.detach().argmax(dim=1) == labels).float().mean()


def full_precision(x: Tensor) -> torch.autocast:
    """A region where autocast is off on ``x``'s device, so products and log-softmax run in the
    dtype of their (float32) inputs: bf16 similarities near 1 step by about 0.004, i.e. 0.06 in
    a logit at temperature 0.07 (docs/mscl.md §8.15)."""
    return torch.autocast(x.device.type, enabled=False)
