"""kNN monitor: how well the RGB encoder being trained already separates the labelled classes.

Every ``pretrain.knn_every`` steps the pooled features of the RGB query encoder (eval mode, one
centre view per video, the pretraining clip length and crop) of the labelled train videos
classify the evaluation videos by a similarity-weighted vote of their k nearest neighbours. The
views are decoded once and kept in memory (at most ``pretrain.knn_videos`` videos per split), so
a check costs one forward pass over them. It reads labels only to monitor; training never sees them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.data.labeled import LabeledClips, split_tables


def knn_predict(train_x: Tensor, train_y: Tensor, test_x: Tensor, *, k: int, temperature: float = 0.07,
                num_classes: int | None = None) -> Tensor:
    """Labels of ``test_x`` by a weighted vote of their ``k`` most similar ``train_x`` rows.

    Features are centred by the train mean and L2-normalised; neighbour j votes for its class
    with weight exp(cos_j / temperature).

    Args:
        train_x: (N, D); train_y: (N,) long; test_x: (M, D).
    Returns:
        (M,) long predicted labels.
    """
    mean = train_x.mean(dim=0, keepdim=True)
    a, b = F.normalize(test_x - mean, dim=1), F.normalize(train_x - mean, dim=1)
    sim = a @ b.T  # (M, N)
    top, idx = sim.topk(min(k, len(train_x)), dim=1)  # (M, k)
    C = int(num_classes or int(train_y.max()) + 1)
    votes = torch.zeros(len(test_x), C, dtype=sim.dtype)
    votes.scatter_add_(1, train_y[idx], (top / temperature).exp())
    return votes.argmax(dim=1)


def _subset(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows, evenly spread over the table (deterministic)."""
    if len(table) <= n:
        return table
    return table.iloc[np.linspace(0, len(table) - 1, n).round().astype(int)].reset_index(drop=True)


class KnnMonitor:
    """kNN top-1 of the evaluation split from train-split neighbours (see the module docstring)."""

    def __init__(self, videos_csv: str | Path, frames_dir: str | Path, *, num_frames: int, crop_size: int,
                 k: int, max_videos: int, batch_size: int = 32):
        tables = split_tables(videos_csv, frames_dir)
        self.k, self.batch_size, self.num_classes = k, batch_size, len(tables.classes)
        self.views, self.labels = {}, {}
        for name, table in (("train", tables.train), ("test", tables.test)):
            ds = LabeledClips(_subset(table, max_videos), num_frames=num_frames, train=False, crop_size=crop_size)
            items = [ds[i] for i in range(len(ds))]
            if not items:
                raise ValueError(f"the kNN monitor needs labelled {name} videos; none has usable frames")
            self.views[name] = torch.stack([it.views[0] for it in items])  # (N, 3, T, S, S)
            self.labels[name] = torch.tensor([it.label for it in items])

    @torch.no_grad()
    def features(self, encoder: torch.nn.Module, split: str, device: torch.device) -> Tensor:
        """(N, D) float32 pooled features of the split's views."""
        out = []
        for chunk in self.views[split].split(self.batch_size):
            x = chunk.to(device).contiguous(memory_format=torch.channels_last_3d)
            out.append(encoder.pooled_feature(x).float().cpu())
        return torch.cat(out)

    def __call__(self, encoder: torch.nn.Module, device: torch.device) -> float:
        """kNN top-1 in percent; the encoder is evaluated in eval mode and left in its former mode."""
        was_training = encoder.training
        encoder.eval()
        try:
            train_x, test_x = self.features(encoder, "train", device), self.features(encoder, "test", device)
        finally:
            encoder.train(was_training)
        pred = knn_predict(train_x, self.labels["train"], test_x, k=self.k, num_classes=self.num_classes)
        return 100.0 * float((pred == self.labels["test"]).float().mean())
