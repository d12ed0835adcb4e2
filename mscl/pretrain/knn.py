"""kNN monitors: how well the encoders being trained already separate the labelled classes.

Every ``pretrain.knn_every`` steps the pooled features of the RGB query encoder (eval mode, one
centre view per video, the pretraining clip length and crop) of the labelled train videos of an
evaluation set (``pretrain.monitor``) classify its val videos by a similarity-weighted vote of
their k nearest neighbours; the test split is never read, so the curve may guide tuning. The
views are decoded once and kept in memory (at most ``pretrain.knn_videos`` videos per split), so
a check costs one forward pass over them. It reads labels only to monitor; training never sees them.

With MSCL a second monitor does the same for the flow encoder (``knn_flow_top1``) where flow of
val videos exists: when the monitor set is the pretraining set and ``flow.splits`` holds val.
Side by side the two curves show where learning stops: a flow encoder that separates motion
while the RGB encoder does not means the cross-modal transfer is the bottleneck.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from mscl.data.labeled import LabeledClips, split_tables
from mscl.data.pretrain import color_code
from mscl.flow.colorwheel import normalize_per_frame
from mscl.io.flow_files import FlowReader
from mscl.io.tables import USABLE, read_csv, read_videos
from mscl.transforms.spatial import center_crop, resize_short_side


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
    return _vote(a @ b.T, train_y, k=k, temperature=temperature, num_classes=num_classes)


def _vote(sim: Tensor, train_y: Tensor, *, k: int, temperature: float, num_classes: int | None) -> Tensor:
    """Weighted vote of the ``k`` most similar train rows (columns of ``sim`` (M, N)): (M,) labels."""
    top, idx = sim.topk(min(k, sim.shape[1]), dim=1)  # (M, k)
    C = int(num_classes or int(train_y.max()) + 1)
    votes = torch.zeros(sim.shape[0], C, dtype=sim.dtype)
    votes.scatter_add_(1, train_y[idx], (top / temperature).exp())
    return votes.argmax(dim=1)


def _subset(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows, evenly spread over the table (deterministic)."""
    if len(table) <= n:
        return table
    return table.iloc[np.linspace(0, len(table) - 1, n).round().astype(int)].reset_index(drop=True)


class KnnMonitor:
    """kNN top-1 of the val split from train-split neighbours (see the module docstring)."""

    def __init__(self, videos_csv: str | Path, frames_dir: str | Path, *, num_frames: int, crop_size: int,
                 k: int, max_videos: int, batch_size: int = 32):
        tables = split_tables(videos_csv, frames_dir, split="val")
        self.k, self.batch_size, self.num_classes = k, batch_size, len(tables.classes)
        self.views, self.labels = {}, {}
        for name, table in (("train", tables.train), ("test", tables.test)):
            ds = LabeledClips(_subset(table, max_videos), num_frames=num_frames, train=False, crop_size=crop_size)
            items = [ds[i] for i in range(len(ds))]
            if not items:
                raise ValueError(f"the kNN monitor needs labelled {name} videos; none has usable frames")
            self.views[name] = torch.stack([it.views[0] for it in items])  # (N, 3, T, S, S)
            self.labels[name] = torch.tensor([it.label for it in items])

    def features(self, encoder: torch.nn.Module, split: str, device: torch.device) -> Tensor:
        """(N, D) float32 pooled features of the split's views."""
        return pooled_features(encoder, self.views[split], device, self.batch_size)

    def __call__(self, encoder: torch.nn.Module, device: torch.device) -> float:
        """kNN top-1 in percent; the encoder is evaluated in eval mode and left in its former mode."""
        with evaluating(encoder):
            train_x, test_x = self.features(encoder, "train", device), self.features(encoder, "test", device)
        pred = knn_predict(train_x, self.labels["train"], test_x, k=self.k, num_classes=self.num_classes)
        return 100.0 * float((pred == self.labels["test"]).float().mean())


class FlowKnnMonitor:
    """kNN top-1 of the val videos from train-split neighbours with the flow encoder, as
    :class:`KnnMonitor` does with the RGB encoder (see the module docstring).

    Views: the centre clip of each video's flow (``clip_len`` flows ``interval`` apart), every
    frame divided by its largest vector as in training, resized to short side ``crop_size``,
    centre-cropped and colour-coded: (N, 3, T, S, S) in [0, 1], built once.
    """

    def __init__(self, videos_csv: str | Path, flow_dir: str | Path, *, clip_len: int, interval: int, crop_size: int,
                 k: int, max_videos: int, batch_size: int = 32):
        manifest = read_csv(Path(flow_dir) / "manifest.csv", ["video_id", "flow", "num_flows", "status"])
        usable = manifest[manifest["status"].isin(USABLE) & (manifest["num_flows"] > 0)]
        videos = read_videos(videos_csv)
        self.views, self.labels = {}, {}
        for split in ("train", "val"):
            table = _subset(videos.loc[videos["split"] == split, ["video_id", "label"]].merge(usable, on="video_id"),
                            max_videos)
            if table["label"].nunique() < 2:
                raise ValueError(f"the flow kNN monitor needs flow of {split} videos of at least two classes")
            self.views[split] = torch.stack([self._view(Path(flow_dir) / r.flow, int(r.num_flows), clip_len, interval,
                                                        crop_size) for r in table.itertuples()])
            self.labels[split] = torch.tensor(table["label"].to_numpy())
        self.k, self.batch_size, self.num_classes = k, batch_size, int(videos["label"].max()) + 1

    @staticmethod
    def _view(path: Path, L: int, clip_len: int, interval: int, crop_size: int) -> Tensor:
        """The colour-coded centre flow clip of one video: (3, T, S, S) in [0, 1]."""
        start = max(0, (L - clip_len * interval) // 2)
        with FlowReader(path) as fr:
            flow = fr.read([(start + interval * i) % L for i in range(clip_len)])  # (T, H, W, 2)
        flow = normalize_per_frame(torch.from_numpy(flow).permute(0, 3, 1, 2)).movedim(0, 1)  # (2, T, H, W)
        return color_code(center_crop(resize_short_side(flow, crop_size), crop_size))

    def __call__(self, encoder: torch.nn.Module, device: torch.device) -> float:
        """kNN top-1 in percent of the flow encoder (eval mode, then its former mode)."""
        with evaluating(encoder):
            train_x, val_x = (pooled_features(encoder, self.views[s], device, self.batch_size) for s in ("train", "val"))
        pred = knn_predict(train_x, self.labels["train"], val_x, k=self.k, num_classes=self.num_classes)
        return 100.0 * float((pred == self.labels["val"]).float().mean())


@torch.no_grad()
def pooled_features(encoder: torch.nn.Module, views: Tensor, device: torch.device, batch_size: int) -> Tensor:
    """(N, D) float32 pooled features (the encoder's first output) of ``views`` (N, C, T, S, S)."""
    out = []
    for chunk in views.split(batch_size):
        x = chunk.to(device).contiguous(memory_format=torch.channels_last_3d)
        out.append(encoder(x)[0].float().cpu())
    return torch.cat(out)


@contextlib.contextmanager
def evaluating(module: torch.nn.Module):
    """Eval mode inside the block; the module's former mode afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
