"""Momentum (key) encoders and key queues: the MoCo machinery shared by every pretraining method.

A :class:`MoCoBranch` bundles one query encoder + projection head, their momentum copies and the
queue of past keys (docs/mscl.md §3.1). MSCL has an RGB and a flow branch; MoCo v2 has one.
DCLR (:mod:`mscl.pretrain.dclr`) builds on :class:`MomentumEncoder` (one backbone, five heads)
and its own :class:`KeyQueue` per embedding.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mscl.dist import all_gather, batch_shuffle, batch_unshuffle
from mscl.models.heads import embed


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` to be updated only by :func:`momentum_update`."""
    key = copy.deepcopy(module)
    for p in key.parameters():
        p.requires_grad_(False)
    return key


@torch.no_grad()
def momentum_update(key: nn.Module, query: nn.Module, m: float) -> None:
    """EMA of parameters, in place: k <- m * k + (1 - m) * q.

    Buffers (BatchNorm running statistics) are not averaged: the key encoder keeps its own,
    as in MoCo and the released MSCL code.
    """
    for p_k, p_q in zip(key.parameters(), query.parameters(), strict=True):
        p_k.mul_(m).add_(p_q.detach(), alpha=1.0 - m)


def age_decay(queue: Tensor, count: Tensor, decay: float) -> Tensor:
    """Age-decayed negatives (docs/mscl.md §3.1): column j scaled by decay ** count[j].

    Args:
        queue: (dim, K) stored keys. count: (K,) enqueues since each slot was written.
    Returns:
        (dim, K) new tensor (never a view of ``queue``).
    """
    return queue * decay ** count.to(queue.dtype)


class KeyQueue(nn.Module):
    """Fixed-size FIFO of keys with a per-slot age counter.

    Buffers: ``queue`` (dim, K) random unit columns at start, ``ptr`` () next slot to write,
    ``count`` (K,) age per slot: every enqueue adds 1 to all slots and sets the written ones to 1
    (0 = never written).
    """

    def __init__(self, dim: int, K: int):
        super().__init__()
        self.register_buffer("queue", F.normalize(torch.randn(dim, K), dim=0))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros(K, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.queue.shape[1]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write (B, dim) keys at ``ptr``, wrapping around the end; B <= K."""
        B, K = keys.shape[0], self.size
        if B > K:
            raise ValueError(f"cannot enqueue {B} keys into a queue of {K}")
        slots = (int(self.ptr) + torch.arange(B, device=keys.device)) % K  # (B,)
        self.queue[:, slots] = keys.T.to(self.queue.dtype)
        self.count += 1
        self.count[slots] = 1
        self.ptr.fill_((int(self.ptr) + B) % K)

    def decayed(self, decay: float) -> Tensor:
        """(dim, K) negatives, column j scaled by decay ** count[j]; a snapshot, not a view."""
        return age_decay(self.queue, self.count, decay)


class MomentumEncoder(nn.Module):
    """Query encoder + head(s) and their momentum (key) copies.

    Args:
        encoder: maps (B, C, T, H, W) to ``(pooled (B, d), stage maps)``.
        head: the projection head, or a ``ModuleDict`` of heads (DCLR has five).
    """

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder_q, self.head_q = encoder, head
        self.encoder_k, self.head_k = momentum_copy(encoder), momentum_copy(head)

    def momentum_step(self, m: float) -> None:
        """EMA-update the key encoder and head from the query ones."""
        momentum_update(self.encoder_k, self.encoder_q, m)
        momentum_update(self.head_k, self.head_q, m)

    @torch.no_grad()
    def key_maps(self, x: Tensor, *, shuffle: bool = True) -> Tensor:
        """(N, C, T, H, W) -> the key encoder's last stage maps, no gradient, with shuffle-BN
        unless ``shuffle`` is False."""
        if not shuffle:
            return self.encoder_k(x)[1][-1]
        x, idx_unshuffle = batch_shuffle(x)
        _, stages = self.encoder_k(x)
        return batch_unshuffle(stages[-1], idx_unshuffle)


class MoCoBranch(MomentumEncoder):
    """Query encoder + head, momentum key copies, and a key queue.

    Args:
        encoder: maps (B, C, T, H, W) to ``(pooled (B, d), stage maps)``.
        head: maps (B, d) to (B, dim).
        dim: embedding size. K: queue length.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, *, dim: int, K: int):
        super().__init__(encoder, head)
        self.queue = KeyQueue(dim, K)

    def query(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Returns q (B, dim) L2-normalised and the query encoder's stage maps."""
        pooled, stages = self.encoder_q(x)
        return embed(self.head_q, pooled), stages

    @torch.no_grad()
    def keys(self, x: Tensor) -> Tensor:
        """(B, C, T, H, W) -> k (B, dim) L2-normalised, no gradient, with shuffle-BN."""
        x, idx_unshuffle = batch_shuffle(x)
        pooled, _ = self.encoder_k(x)
        return batch_unshuffle(embed(self.head_k, pooled), idx_unshuffle)

    def enqueue(self, k: Tensor) -> None:
        """Append this step's keys (B, dim) from every process (docs/mscl.md §3.1)."""
        self.queue.enqueue(all_gather(k))
