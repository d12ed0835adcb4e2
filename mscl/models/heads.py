"""Projection heads that map a pooled clip feature to the contrastive embedding space."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ProjectionHead(nn.Sequential):
    """MoCo v2 projector: Linear(d, d) -> ReLU -> Linear(d, dim), PyTorch default init.

    Args:
        dim_in: pooled feature size d (512 for R3D-18, 128 for the flow encoder).
        dim: embedding size (128 in the paper).
    """

    def __init__(self, dim_in: int, dim: int = 128):
        super().__init__(nn.Linear(dim_in, dim_in), nn.ReLU(inplace=True), nn.Linear(dim_in, dim))


def embed(head: nn.Module, pooled: Tensor) -> Tensor:
    """(B, d) pooled features -> (B, dim) L2-normalised embeddings."""
    return F.normalize(head(pooled), dim=1)
