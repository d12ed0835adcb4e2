"""Batch normalisation over other groups of samples than one process's batch, on any device.

* :class:`GlobalBatchNorm` (``pretrain.sync_bn``): over the global batch of all processes.
  ``torch.nn.SyncBatchNorm`` runs only on GPUs; this version uses the autograd-aware
  ``all_reduce`` of ``torch.distributed.nn`` so a 2-process CPU (gloo) run normalises exactly like
  one process with the whole batch, which is what makes multi-process training testable here.
* :class:`SplitBatchNorm` (``pretrain.bn_splits``): over interleaved sub-batches of one process's
  batch, as if each sub-batch sat on its own GPU. With one process, shuffle-BN only permutes
  samples inside the one group the statistics are taken over, so the key encoder normalises
  exactly the videos the query encoder does; split into sub-batches, the shuffled keys fall into
  other groups than their queries, as with several GPUs (docs/mscl.md §8.17).
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


class _GroupedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics come from :meth:`moments` over G groups of the batch
    (sample i in group i mod G); evaluation is BatchNorm's."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor, float]:
        """(B, C, ...) float -> mean and biased variance (G, C) of the G groups, and the number of
        values per group and channel."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        mean, var, n = self.moments(x.float())
        with torch.no_grad():  # the running statistics follow the mean over groups
            self.num_batches_tracked += 1
            unbiased = var * (n / max(n - 1, 1))
            self.running_mean.lerp_(mean.mean(0).to(self.running_mean.dtype), self.momentum)
            self.running_var.lerp_(unbiased.mean(0).to(self.running_var.dtype), self.momentum)
        grouped = x.float().unflatten(0, (-1, mean.shape[0]))  # (B/G, G, C, ...)
        shape = (1, *mean.shape) + (1,) * (x.dim() - 2)
        y = ((grouped - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)).flatten(0, 1)
        if self.affine:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


class GlobalBatchNorm(_GroupedBatchNorm):
    """BatchNorm whose training statistics cover the batches of all processes."""

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor, float]:
        mean, var, n = global_moments(x)
        return mean[None], var[None], n


class SplitBatchNorm(_GroupedBatchNorm):
    """BatchNorm whose training statistics are taken over ``splits`` interleaved sub-batches: sample
    i belongs to group i mod ``splits``. The batch size must be a multiple of ``splits``."""

    def __init__(self, *args, splits: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        if splits < 1:
            raise ValueError(f"splits must be >= 1, got {splits}")
        self.splits = splits

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor, float]:
        b, g = x.shape[0], self.splits
        if b % g:
            raise ValueError(f"a batch of {b} does not split into {g} equal BatchNorm groups")
        grouped = x.unflatten(0, (b // g, g))  # (B/g, g, C, ...): sample i is row i // g, group i % g
        var, mean = torch.var_mean(grouped, [0, *range(3, grouped.dim())], correction=0)
        return mean, var, grouped.numel() / (g * x.shape[1])


def convert_batchnorm(module: nn.Module, splits: int = 0) -> nn.Module:
    """Replace every BatchNorm{1,2,3}d in ``module`` by a :class:`GlobalBatchNorm` (``splits`` 0)
    or a :class:`SplitBatchNorm` over ``splits`` sub-batches, with the same parameters and running
    statistics; returns the (possibly new) module."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, _GroupedBatchNorm):
        args = (module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        new = SplitBatchNorm(*args, splits=splits) if splits else GlobalBatchNorm(*args)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        if module.affine:
            new.weight.requires_grad_(module.weight.requires_grad)
            new.bias.requires_grad_(module.bias.requires_grad)
        return new
    for name, child in module.named_children():
        setattr(module, name, convert_batchnorm(child, splits))
    return module
