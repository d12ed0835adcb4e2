"""The pretrained encoder and what the downstream stages run through it.

Only the RGB query backbone of pretraining is kept (docs/mscl.md §1): the sidecar of
``encoder.pt`` names the backbone (``r3d_18`` or ``r2plus1d_18``) and its width, so a plain
``build_backbone(name, width)`` rebuilds it.
Clip batches go through the network in ``channels_last_3d`` (about 5x faster than the default
layout for the CPU demo's 3D convolutions, and the fast layout on GPUs) under bf16 autocast on
CUDA (:func:`mscl.dist.autocast`). Retrieval (docs/mscl.md §6.2) averages the pooled features of a video's views.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from mscl.data.labeled import LabeledClips
from mscl.dist import autocast, resolve_device
from mscl.downstream.retrieval import nearest_neighbours, recall_at_k, similarity
from mscl.io.checkpoint import load_module_state
from mscl.models.r3d import BACKBONES, VideoResNet, build_backbone
from mscl.params import LinearParams, RetrieveParams


# --------------------------------------------------------------------------- encoder and devices


def load_encoder(path: str | Path, *, init: str, seed: int = 0) -> tuple[VideoResNet, dict]:
    """Rebuild the encoder described by the sidecar of ``path``.

    Args:
        path: ``encoder.pt`` written by ``mscl.io.checkpoint.save_module``.
        init: ``"pretrained"`` loads the weights; ``"random"`` keeps a seeded fresh
            initialisation of the same architecture (the lower baseline).
    Returns:
        (encoder, sidecar).
    """
    state, sidecar = load_module_state(path)
    if sidecar.get("backbone") not in BACKBONES:
        raise ValueError(f"{path}: backbone {sidecar.get('backbone')!r}, expected one of {', '.join(BACKBONES)}")
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(seed)
        encoder = build_backbone(sidecar["backbone"], int(sidecar["width"]))
    if init == "pretrained":
        encoder.load_state_dict(state)
    elif init != "random":
        raise ValueError(f"init must be 'pretrained' or 'random', got {init!r}")
    return encoder, sidecar


def batch_views(views: Tensor, device: torch.device) -> Tensor:
    """Loader views (B, V, 3, T, S, S) -> network input (B*V, 3, T, S, S) on ``device``, channels-last."""
    x = views.flatten(0, 1).to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last_3d)


def make_loader(ds: LabeledClips, *, batch_size: int, workers: int, device: torch.device,
                shuffle: bool = False, seed: int = 0) -> DataLoader:
    """Batches of whole videos holding about ``batch_size`` clips (at least one video)."""
    videos = max(1, batch_size // ds.views_per_video)
    return DataLoader(ds, batch_size=videos, shuffle=shuffle, num_workers=workers,
                      pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- running views


class ViewOutputs(NamedTuple):
    """A network's output for every view of every video, in table order.

    values: (N, V, X) float32 (pooled features or logits); labels: (N,) long.
    """

    values: Tensor
    labels: Tensor

    @property
    def video(self) -> Tensor:
        """(N, X): the mean over a video's views."""
        return self.values.mean(dim=1)


@torch.no_grad()
def forward_views(fn: Callable[[Tensor], Tensor], ds: LabeledClips, *, batch_size: int, workers: int,
                  device: torch.device, bf16: bool) -> ViewOutputs:
    """Apply ``fn`` ((B, 3, T, S, S) -> (B, X), on ``device``) to every view of ``ds``."""
    values, labels, index = [], [], []
    for batch in make_loader(ds, batch_size=batch_size, workers=workers, device=device):
        B, V = batch.views.shape[:2]
        with autocast(device, bf16):
            out = fn(batch_views(batch.views, device))  # (B*V, X)
        values.append(out.float().cpu().reshape(B, V, -1))
        labels.append(batch.label)
        index.append(batch.index)
    order = torch.cat(index).argsort()
    return ViewOutputs(torch.cat(values)[order], torch.cat(labels)[order])


def extract_features(encoder: VideoResNet, ds: LabeledClips, *, batch_size: int, workers: int,
                     device: torch.device, bf16: bool) -> ViewOutputs:
    """Pooled features (N, V, 8w) of every view with the encoder frozen in eval mode."""
    encoder.eval().to(device, memory_format=torch.channels_last_3d)
    return forward_views(encoder.pooled_feature, ds, batch_size=batch_size, workers=workers, device=device, bf16=bf16)


# --------------------------------------------------------------------------- retrieval


class RetrievalResult(NamedTuple):
    """metrics: recall@k in percent and counts; neighbours: (Nq, shown) gallery rows, best first."""

    metrics: dict
    neighbours: Tensor


def frozen_features(p: LinearParams | RetrieveParams, encoder: VideoResNet, first: pd.DataFrame,
                    second: pd.DataFrame) -> tuple[ViewOutputs, ViewOutputs, float]:
    """Frozen features of the videos of two tables with the evaluation views of ``p``.

    Returns:
        the features of ``first`` and ``second`` and the videos per second of the extraction.
    """
    kw = dict(num_frames=p.num_frames, train=False, crop_size=p.crop_size, clips=p.clips, crops=p.crops)
    run = dict(batch_size=p.batch_size, workers=p.workers, device=resolve_device(p.device), bf16=p.bf16)
    start = time.perf_counter()
    a = extract_features(encoder, LabeledClips(first, **kw), **run)
    b = extract_features(encoder, LabeledClips(second, **kw), **run)
    return a, b, round((len(first) + len(second)) / (time.perf_counter() - start), 2)


def video_retrieval(p: RetrieveParams, encoder: VideoResNet, gallery: pd.DataFrame,
                    queries: pd.DataFrame) -> RetrievalResult:
    """Retrieve train videos (``gallery`` rows) for every test video (``queries`` rows), docs/mscl.md §6.2."""
    g, q, videos_per_second = frozen_features(p, encoder, gallery, queries)
    sim = similarity(q.video, g.video)  # (Nq, Ng)
    recall = recall_at_k(sim, q.labels, g.labels)
    metrics = {f"R@{k}": round(100 * r, 2) for k, r in recall.items()}
    metrics |= {"queries": len(queries), "gallery": len(gallery), "feature_dim": int(g.values.shape[-1]),
                "videos_per_second": videos_per_second}
    return RetrievalResult(metrics, nearest_neighbours(sim, p.shown))
