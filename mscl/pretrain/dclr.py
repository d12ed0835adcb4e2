"""DCLR pretraining model (docs/dclr.md): one backbone sees V, S and D; five heads, five queues.

One call of :meth:`DCLR.forward` is one training step's worth of model work, with the same
machinery as MSCL (:mod:`mscl.models.momentum`: EMA key encoder with shuffle-BN, key queues;
:mod:`mscl.losses.infonce`), in the released code's order: the key encoder, before this step's
momentum update, runs on each clip's V, S and D to find where S and D activate (and to embed S
and D for the neighbour mining); the query encoder embeds the query clip; the key nets are
momentum-updated and embed the key clip; then the queues are read, the keys enqueued and the
named terms of :mod:`mscl.losses.dclr` computed. Only ``backbone`` is kept downstream.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn

from mscl.dist import all_gather
from mscl.losses.dclr import (NEIGHBOURS, STREAMS, TERMS, active_dclr_terms, activation_weights, dynamic_view,
                              multi_positive_nce, neighbour_positives, weighted_pool)
from mscl.models.heads import ProjectionHead, embed
from mscl.models.momentum import KeyQueue, MomentumEncoder
from mscl.models.r3d import build_backbone, global_pool

# the queues the neighbours are mined from (topk > 0): S and D embeddings of earlier key clips
# from the activation pass, as released (its queue_rs, queue_rd)
MINED = {"static": "mined_s", "dynamic": "mined_d"}


class Located(NamedTuple):
    """What the activation pass finds in one clip's V, S and D: the activation weights of S and D
    (B, 1, T', H', W') each, and (for the mining) the embeddings of S and D (B, dim) or None."""

    weights: tuple[Tensor, Tensor]
    s: Tensor | None
    d: Tensor | None


class DCLR(nn.Module):
    """Dual contrastive learning: RGB against its static and dynamic views.

    Args (keyword-only; defaults are DCLR's):
        weights: {term name of :data:`mscl.losses.dclr.TERMS`: weight}; 0 or missing disables it.
        backbone, width: the shared encoder (:func:`mscl.models.r3d.build_backbone`).
        dim: embedding size (128). queue_size: K negatives per queue.
        temperature: InfoNCE temperature (0.07). queue_decay: age decay of queued keys (1 = none).
        wrap: dynamic view frame 0 as released (circular difference) instead of zeros.
        topk: queue neighbours of the query's own views added as positives (0 = off; released 5).
    """

    def __init__(self, *, weights: Mapping[str, float], backbone: str = "r2plus1d_10", width: int = 64,
                 dim: int = 128, queue_size: int = 16384, temperature: float = 0.07, queue_decay: float = 1.0,
                 wrap: bool = False, topk: int = 5):
        super().__init__()
        self.active = active_dclr_terms(weights)
        if topk >= queue_size:
            raise ValueError(f"topk ({topk}) must be below the queue size ({queue_size})")
        self.query_streams = tuple(s for s in STREAMS if s in {TERMS[n].query for n in self.active})
        self.key_streams = tuple(s for s in STREAMS if s in {TERMS[n].key for n in self.active})
        self.key_streams += tuple(MINED.values()) if topk else ()  # filled from the activation pass
        self.temperature, self.queue_decay, self.wrap, self.topk = temperature, queue_decay, wrap, topk
        self.top1: dict[str, Tensor] = {}
        encoder = build_backbone(backbone, width)
        heads = nn.ModuleDict({s: ProjectionHead(encoder.out_dim, dim) for s in STREAMS})
        for m in heads.modules():  # the release's initialisation of its heads (view_resnet.py)
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
        self.nets = MomentumEncoder(encoder, heads)
        mined = tuple(MINED.values()) if topk else ()
        self.queues = nn.ModuleDict({s: KeyQueue(dim, queue_size) for s in STREAMS + mined})

    @property
    def backbone(self) -> nn.Module:
        """The query encoder: the network kept for fine-tuning and retrieval."""
        return self.nets.encoder_q

    def forward(self, rgb_q: Tensor, rgb_k: Tensor, *, static_q: Tensor, static_k: Tensor, m_rgb: float,
                m_flow: float | None = None) -> dict[str, Tensor]:
        """One step: update the key nets and queues, return the weighted named loss terms.

        Args:
            rgb_q, rgb_k: (B, 3, T, H, W) augmented, normalised RGB clips of one video.
            static_q, static_k: (B, 3, 1 or T, H, W) each clip's static frame, augmented on its
                own (repeated over the clip's T frames here).
            m_rgb: key-encoder momentum of this step. m_flow: unused (DCLR has no flow).
        Returns:
            {term: weight * loss}; ``self.top1`` then holds each term's contrastive top-1.
        """
        views_q, views_k = self.views(rgb_q, static_q), self.views(rgb_k, static_k)  # (3B, 3, T, H, W) each
        with torch.no_grad():  # before the momentum update, as released
            found_q, found_k = self.locate(views_q), self.locate(views_k)
        _, stages = self.nets.encoder_q(views_q)
        q = self.embed(self.nets.head_q, stages[-1], found_q.weights, self.query_streams)
        self.nets.momentum_step(m_rgb)
        with torch.no_grad():
            k = self.embed(self.nets.head_k, self.nets.key_maps(views_k), found_k.weights, self.key_streams)
            if self.topk:
                k |= {MINED["static"]: found_k.s, MINED["dynamic"]: found_k.d}
        banks = {s: self.queues[s].decayed(self.queue_decay) for s in self.key_streams}  # before this step's keys
        extra = {}
        if self.topk:
            extra = neighbour_positives(found_q.s, found_q.d, banks[MINED["static"]], banks[MINED["dynamic"]],
                                        self.topk)
        for s in self.key_streams:
            self.queues[s].enqueue(all_gather(k[s]))
        losses, self.top1 = {}, {}
        for name, weight in self.active.items():
            t = TERMS[name]
            loss, self.top1[name] = multi_positive_nce(q[t.query], k[t.key], banks[t.negatives], self.temperature,
                                                       extra.get(NEIGHBOURS[name]))
            losses[name] = weight * loss
        return losses

    def views(self, rgb: Tensor, static: Tensor) -> Tensor:
        """One clip's three views stacked for one backbone pass: V (B, 3, T, H, W), S (its static
        frame repeated T times) and D (:func:`mscl.losses.dclr.dynamic_view` of V): (3B, 3, T, H, W)."""
        T = rgb.shape[2]
        return torch.cat([rgb, static.expand(-1, -1, T, -1, -1), dynamic_view(rgb, wrap=self.wrap)])

    @torch.no_grad()
    def locate(self, views: Tensor) -> Located:
        """The activation pass over one clip's stacked V, S, D (3B, ...): the key encoder as it is,
        one batch, no shuffle (as released; only the activation weights and the mined
        neighbours come from it, never a key)."""
        _, s, d = self.nets.key_maps(views, shuffle=False).split(views.shape[0] // 3)
        weights = (activation_weights(s), activation_weights(d))
        if not self.topk:
            return Located(weights, None, None)
        heads = self.nets.head_k
        return Located(weights, embed(heads["s"], global_pool(s)), embed(heads["d"], global_pool(d)))

    @staticmethod
    def embed(heads: nn.ModuleDict, maps: Tensor, weights: tuple[Tensor, Tensor],
              streams: tuple[str, ...]) -> dict[str, Tensor]:
        """{stream: (B, dim) L2-normalised embedding} of the named ``streams`` (of :data:`STREAMS`)
        from the layer-4 maps of V, S and D stacked (3B, C, T', H', W') and the activation weights
        (static, dynamic) that pool V."""
        v, s, d = maps.split(maps.shape[0] // 3)
        pooled = {"vv": lambda: global_pool(v), "vs": lambda: weighted_pool(v, weights[0]),
                  "vd": lambda: weighted_pool(v, weights[1]), "s": lambda: global_pool(s), "d": lambda: global_pool(d)}
        return {name: embed(heads[name], pooled[name]()) for name in streams if name in STREAMS}
