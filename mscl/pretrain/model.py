"""MSCL (and MoCo v2) pretraining model: encoders, momentum copies, queues, named loss terms.

One call of :meth:`MSCL.forward` is one training step's worth of model work, in the order of the
released code (docs/mscl.md §3.1): momentum-update a branch's key nets, encode its keys (shuffle-BN),
encode queries, read the queues, enqueue the all-gathered keys, then compute the terms that read
the flow queue after this step's original-flow keys were added. The momentum update and the
enqueue are the explicit methods ``encode_keys`` and ``enqueue``; the objective, whole, is
:mod:`mscl.losses.objective`. Only ``rgb.encoder_q`` (the backbone) is kept for downstream use.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from mscl.data.pretrain import VIEW
from mscl.losses.lmcl import temporal_descriptors
from mscl.losses.objective import TERMS, active_terms, needed_streams, nce_terms, objective
from mscl.models.flow_encoder import FlowEncoder
from mscl.models.heads import ProjectionHead
from mscl.models.momentum import MoCoBranch
from mscl.models.pyramid import FeaturePyramid
from mscl.models.r3d import build_backbone


class MSCL(nn.Module):
    """Two MoCo branches (RGB R3D-18, flow frame-wise ResNet-18), cross-modal terms and LMCL.

    Args (keyword-only; defaults are the paper's):
        method: "mscl", or "moco" for MoCo v2 on the RGB branch alone (no flow encoder built).
        backbone: the RGB encoder (:func:`mscl.models.r3d.build_backbone`: r3d_18, r2plus1d_18).
        width: its stem width (64); flow_width: flow encoder base width (64 -> 16..128 channels).
        dim: embedding size (128). queue_size: K negatives per queue (65536).
        temperature: InfoNCE and LMCL temperature (0.07).
        queue_decay: per-enqueue age decay of queued negatives (0.99999; 1.0 = plain MoCo).
        weights: {term of :data:`mscl.losses.objective.TERMS`: weight}, 1 for a term not named;
            0 removes the term and skips its compute.
        lmcl: local motion contrast on/off (off also drops the pyramid neck).
        fra: flow rotation augmentation on/off (off drops every second-flow-call term and
            LMCL's extra negatives; no second flow clip is encoded).
        exclude_positives_from_queue: see :func:`mscl.losses.objective.nce_terms` (docs/mscl.md §8.2).
        single_flow_momentum_update: False = the flow key nets are EMA-updated again before the
            rotated-flow keys, as released (docs/mscl.md §8.3); True = once per step.
    """

    def __init__(
        self, *, method: str = "mscl", backbone: str = "r3d_18", width: int = 64, flow_width: int = 64, dim: int = 128,
        queue_size: int = 65536, temperature: float = 0.07, queue_decay: float = 0.99999,
        weights: Mapping[str, float] | None = None, lmcl: bool = True, fra: bool = True,
        exclude_positives_from_queue: bool = False, single_flow_momentum_update: bool = False,
    ):
        super().__init__()
        weights = {name: 1.0 for name in TERMS} | dict(weights or {})
        self.active = active_terms(weights, method=method, lmcl=lmcl, fra=fra)
        self.terms = nce_terms(exclude_positives_from_queue=exclude_positives_from_queue)
        self.query_streams, self.key_streams = needed_streams(self.active, self.terms, fra=fra)
        self.temperature, self.queue_decay, self.fra = temperature, queue_decay, fra
        self.single_flow_momentum_update = single_flow_momentum_update
        self.top1: dict[str, Tensor] = {}  # contrastive top-1 of each term at the last forward

        rgb_encoder = build_backbone(backbone, width)
        self.rgb = MoCoBranch(rgb_encoder, ProjectionHead(rgb_encoder.out_dim, dim), dim=dim, K=queue_size)
        self.flow = None
        if {"flow", "flow_rot"} & set(self.query_streams + self.key_streams):
            flow_encoder = FlowEncoder(width=flow_width)
            head = ProjectionHead(flow_encoder.out_dim, dim)
            self.flow = MoCoBranch(flow_encoder, head, dim=dim, K=queue_size)
        self.pyramid = None
        if "lmcl" in self.active:
            if width != flow_width:  # LMCL compares 2*width pyramid channels with flow layer4's
                raise ValueError(f"LMCL needs width == flow_width, got {width} and {flow_width}")
            # [layer2, layer3, layer4] -> 2*width channels (128 at width 64)
            self.pyramid = FeaturePyramid(rgb_encoder.stage_channels[1:], 2 * width)

    @property
    def backbone(self) -> nn.Module:
        """The RGB query encoder: the network kept for fine-tuning and retrieval."""
        return self.rgb.encoder_q

    def forward(
        self, rgb_q: Tensor, rgb_k: Tensor, *, flow_q: Tensor | None = None,
        flow_k: Tensor | None = None, flow_q_rot: Tensor | None = None,
        flow_k_rot: Tensor | None = None, m_rgb: float, m_flow: float | None = None,
    ) -> dict[str, Tensor]:
        """One step: update key nets and queues, return the weighted named loss terms.

        Every call changes state (key-net EMA, queues), so call it for training steps only.

        Args:
            rgb_q, rgb_k: (B, 3, T, H, W) normalised RGB clips (query and key views).
            flow_q, flow_k: (B, 3, T, H, W) colour-coded flow, in [0, 1], of the flow
                branch's first call (query, key); flow_q_rot, flow_k_rot: of its second call
                (needed only with fra on). Which clips these are is the data path's
                ``flow_layout`` (docs/mscl.md §2.5); LMCL contrasts flow_q_rot as negatives.
            m_rgb, m_flow: key-encoder momentum for this step (schedules.cosine_momentum).
        Returns:
            {term name: weight * loss} for the active terms; their sum is the training loss.
            ``self.top1`` then holds each term's contrastive top-1 for this step (detached).
        """
        clips_q = {"rgb": rgb_q, "flow": flow_q, "flow_rot": flow_q_rot}
        clips_k = {"rgb": rgb_k, "flow": flow_k, "flow_rot": flow_k_rot}
        self._check_inputs(clips_q, clips_k, m_flow)
        k = self.encode_keys(clips_k, m_rgb=m_rgb, m_flow=m_flow)
        q, maps = self.encode_queries(clips_q)
        banks = self._read_banks({"rgb", "flow"})  # snapshots from before this step's enqueue
        self.enqueue(k)
        banks |= self._read_banks({"flow_enqueued"})
        losses, self.top1 = objective(self.active, self.terms, q=q, k=k, banks=banks, temperature=self.temperature,
                                      lmcl_descriptors=lambda: self.lmcl_descriptors(maps))
        return losses

    @torch.no_grad()
    def encode_keys(self, clips: dict[str, Tensor], *, m_rgb: float, m_flow: float | None) -> dict[str, Tensor]:
        """Momentum-update each branch, then encode its keys: {stream: (B, dim)}."""
        k = {}
        if "rgb" in self.key_streams:
            self.rgb.momentum_step(m_rgb)
            k["rgb"] = self.rgb.keys(clips["rgb"])
        updated = False
        for stream in ("flow", "flow_rot"):
            if stream not in self.key_streams:
                continue
            # released code: the flow branch runs twice a step and EMA-updates both times (docs/mscl.md §8.3)
            if not (updated and self.single_flow_momentum_update):
                self.flow.momentum_step(m_flow)
                updated = True
            k[stream] = self.flow.keys(clips[stream])
        return k

    def encode_queries(self, clips: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, list[Tensor]]]:
        """Returns {stream: q (B, dim)} and {stream: encoder stage maps [layer1..layer4]}."""
        q, maps = {}, {}
        for stream in self.query_streams:
            branch = self.rgb if stream == "rgb" else self.flow
            q[stream], maps[stream] = branch.query(clips[stream])
        return q, maps

    @torch.no_grad()
    def enqueue(self, k: dict[str, Tensor]) -> None:
        """Enqueue this step's RGB and original-flow keys (rotated-flow keys never are)."""
        if "rgb" in k:
            self.rgb.enqueue(k["rgb"])
        if "flow" in k:
            self.flow.enqueue(k["flow"])

    def lmcl_descriptors(self, maps: dict[str, list[Tensor]]) -> tuple[Tensor, Tensor, Tensor | None]:
        """LMCL's inputs (docs/mscl.md §3.3): the finest pyramid level and flow layer4 (and the
        second flow clip's layer4 with FRA), each pooled to (B, C, T/2)."""
        finest = self.pyramid(maps["rgb"][1:], levels=1)[0]  # (B, 2w, T/2, H/8, W/8)
        x_rgb = temporal_descriptors(finest)
        x_flow = temporal_descriptors(maps["flow"][-1])  # (B, 2w, T/2)
        x_rot = temporal_descriptors(maps["flow_rot"][-1]) if self.fra else None
        return x_rgb, x_flow, x_rot

    def _read_banks(self, names: set[str]) -> dict[str, Tensor]:
        """Age-decayed (dim, K) snapshots of the banks in ``names`` that an active term reads."""
        read = {self.terms[n].negatives for n in self.active if n != "lmcl"} & names
        queues = {"rgb": self.rgb, "flow": self.flow, "flow_enqueued": self.flow}
        return {n: queues[n].queue.decayed(self.queue_decay) for n in read}

    def _check_inputs(self, clips_q: dict, clips_k: dict, m_flow: float | None) -> None:
        """Raise if a clip or momentum that an active term needs is missing."""
        for streams, clips, clip in ((self.query_streams, clips_q, "q"), (self.key_streams, clips_k, "k")):
            missing = [VIEW[clip][s] for s in streams if clips[s] is None]  # streams are view kinds
            if missing:
                raise ValueError(f"the active loss terms need {', '.join(missing)}")
        if {"flow", "flow_rot"} & set(self.key_streams) and m_flow is None:
            raise ValueError("the active loss terms need m_flow")
