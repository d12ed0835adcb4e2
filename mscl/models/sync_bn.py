"""Batch normalisation over the global batch of all processes, on any device (CPU included).

``torch.nn.SyncBatchNorm`` runs only on GPUs; this version uses the autograd-aware
``all_reduce`` of ``torch.distributed.nn`` so a 2-process CPU (gloo) run normalises exactly like
one process with the whole batch, which is what makes multi-process training testable here.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from mscl import dist


def global_moments(x: Tensor) -> tuple[Tensor, Tensor, float]:
    """Mean and biased variance per channel over (batch, spatial...) of every process.

    Args:
        x: (B, C, ...) local activations.
    Returns:
        mean (C,), var (C,), and the global number of values per channel.
    """
    dims = [0, *range(2, x.dim())]
    n = x.numel() / x.shape[1]
    stats = torch.cat([x.sum(dims), (x * x).sum(dims)])  # (2C,)
    if dist.world_size() > 1:
        import torch.distributed.nn.functional as dist_nn

        stats = dist_nn.all_reduce(stats)  # gradients flow back to every process's activations
        n *= dist.world_size()
    mean, sq = stats.view(2, -1) / n
    return mean, sq - mean * mean, n


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics cover the batches of all processes."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        mean, var, n = global_moments(x.float())
        with torch.no_grad():
            self.num_batches_tracked += 1
            unbiased = var * (n / max(n - 1, 1))
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), self.momentum)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        y = (x.float() - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm{1,2,3}d in ``module`` by a :class:`GlobalBatchNorm` with the same
    parameters and running statistics; returns the (possibly new) module."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        if module.affine:
            new.weight.requires_grad_(module.weight.requires_grad)
            new.bias.requires_grad_(module.bias.requires_grad)
        return new
    for name, child in module.named_children():
        setattr(module, name, convert_batchnorm(child))
    return module
