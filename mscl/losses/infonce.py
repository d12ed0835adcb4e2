"""InfoNCE with one positive key and a bank of negatives (MoCo form, method doc 3.1-3.2).

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
    logits, labels = nce_logits(q, k, negatives, temperature)
    with full_precision(logits):
        return F.cross_entropy(logits, labels)


def full_precision(x: Tensor) -> torch.autocast:
    """A region where autocast is off on ``x``'s device, so products and log-softmax run in the
    dtype of their (float32) inputs: bf16 similarities near 1 step by about 0.004, i.e. 0.06 in
    a logit at temperature 0.07 (method notes: numerics)."""
    return torch.autocast(x.device.type, enabled=False)
