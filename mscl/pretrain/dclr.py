"""DCLR pretraining model (docs/dclr.md): one backbone sees V, S and D; five heads, five queues.

One call of :meth:`DCLR.forward` is one training step's worth of model work, with the same
machinery as MSCL (:mod:`mscl.models.momentum`: EMA key encoder with shuffle-BN, key queues;
:mod:`mscl.losses.infonce`): momentum-update the key nets, let the key encoder find where the
query clip's S and D activate, encode the key clip's five key embeddings, encode the query
clip's five query embeddings (V pooled by those weights), read the queues, enqueue the keys,
then compute the named terms of :mod:`mscl.losses.dclr`. Only ``backbone`` is kept downstream.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from mscl.dist import all_gather
from mscl.losses.dclr import (NEIGHBOURS, STREAMS, TERMS, active_dclr_terms, activation_weights, dynamic_view,
                              multi_positive_nce, neighbour_positives, weighted_pool)
from mscl.models.heads import ProjectionHead, embed
from mscl.models.momentum import KeyQueue, MomentumEncoder
from mscl.models.r3d import build_backbone, global_pool


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

    def __init__(self, *, weights: Mapping[str, float], backbone: str = "r3d_18", width: int = 64, dim: int = 128,
                 queue_size: int = 16384, temperature: float = 0.07, queue_decay: float = 1.0, wrap: bool = False,
                 topk: int = 0):
        super().__init__()
        self.active = active_dclr_terms(weights)
        if topk >= queue_size:
            raise ValueError(f"topk ({topk}) must be below the queue size ({queue_size})")
        self.query_streams = tuple(s for s in STREAMS if s in {TERMS[n].query for n in self.active})
        keys = {TERMS[n].key for n in self.active} | ({"s", "d"} if topk else set())  # mining reads s and d
        self.key_streams = tuple(s for s in STREAMS if s in keys)
        self.temperature, self.queue_decay, self.wrap, self.topk = temperature, queue_decay, wrap, topk
        self.top1: dict[str, Tensor] = {}
        encoder = build_backbone(backbone, width)
        heads = nn.ModuleDict({s: ProjectionHead(encoder.out_dim, dim) for s in STREAMS})
        self.nets = MomentumEncoder(encoder, heads)
        self.queues = nn.ModuleDict({s: KeyQueue(dim, queue_size) for s in STREAMS})

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
        B, T = rgb_q.shape[0], rgb_q.shape[2]
        views_q = (rgb_q, static_q.expand(-1, -1, T, -1, -1), dynamic_view(rgb_q, wrap=self.wrap))
        views_k = (rgb_k, static_k.expand(-1, -1, T, -1, -1), dynamic_view(rgb_k, wrap=self.wrap))
        self.nets.momentum_step(m_rgb)
        with torch.no_grad():
            s_q, d_q = self.nets.key_maps(torch.cat(views_q[1:])).split(B)  # where the query's S and D activate
            weights_q = activation_weights(s_q), activation_weights(d_q)
            v_k, s_k, d_k = self.nets.key_maps(torch.cat(views_k)).split(B)
            k = self.embed(self.nets.head_k, v_k, s_k, d_k, (activation_weights(s_k), activation_weights(d_k)),
                           self.key_streams)
        _, stages = self.nets.encoder_q(torch.cat(views_q))
        v_q, s_q_maps, d_q_maps = stages[-1].split(B)
        q = self.embed(self.nets.head_q, v_q, s_q_maps, d_q_maps, weights_q, self.query_streams)
        banks = {s: self.queues[s].decayed(self.queue_decay) for s in self.key_streams}  # before this step's keys
        extra = self.neighbours(s_q, d_q, banks) if self.topk else {}
        for s in self.key_streams:
            self.queues[s].enqueue(all_gather(k[s]))
        losses, self.top1 = {}, {}
        for name, weight in self.active.items():
            t = TERMS[name]
            loss, self.top1[name] = multi_positive_nce(q[t.query], k[t.key], banks[t.negatives], self.temperature,
                                                       extra.get(NEIGHBOURS[name]))
            losses[name] = weight * loss
        return losses

    @staticmethod
    def embed(heads: nn.ModuleDict, v: Tensor, s: Tensor, d: Tensor, weights: tuple[Tensor, Tensor],
              streams: tuple[str, ...]) -> dict[str, Tensor]:
        """{stream: (B, dim) L2-normalised embedding} from the layer-4 maps of V, S and D and the
        activation weights (static, dynamic) that pool V."""
        pooled = {"vv": lambda: global_pool(v), "vs": lambda: weighted_pool(v, weights[0]),
                  "vd": lambda: weighted_pool(v, weights[1]), "s": lambda: global_pool(s), "d": lambda: global_pool(d)}
        return {name: embed(heads[name], pooled[name]()) for name in streams}

    @torch.no_grad()
    def neighbours(self, s_maps: Tensor, d_maps: Tensor, banks: dict[str, Tensor]) -> dict[str, Tensor]:
        """Extra positives (top-k mining): queue slots nearest the query clip's own S and D key
        embeddings (from ``s_maps``, ``d_maps``), in the static and dynamic queues."""
        heads = self.nets.head_k
        return neighbour_positives(embed(heads["s"], global_pool(s_maps)), embed(heads["d"], global_pool(d_maps)),
                                   banks["s"], banks["d"], self.temperature, self.topk)
