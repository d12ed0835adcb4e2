"""Action recognition on top of the pretrained encoder: end-to-end fine-tuning and a linear probe.

Fine-tuning follows docs/mscl.md §6.1: the backbone (R3D-18 or R(2+1)D-18) + dropout 0.5 + a linear
head, SGD with momentum, weight decay, gradient clipping at 40 and a x0.1 step decay at milestone
epochs. It is evaluated single-view (uniform segments, centre crop) and multi-view (clips x crops,
softmax averaged per video). The linear probe keeps the encoder frozen: clip features are
extracted once, then a linear classifier is trained on the cached features. Accuracies are
reported in percent.
"""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mscl.data.labeled import LabeledClips
from mscl.dist import autocast, resolve_device
from mscl.downstream.features import ViewOutputs, batch_views, forward_views, frozen_features, make_loader
from mscl.downstream.metrics import classification_metrics, confusion_matrix, video_scores
from mscl.models.r3d import VideoResNet
from mscl.params import FinetuneParams, LinearParams

Log = Callable[[dict[str, float], int], None]  # (values, epoch) -> None


class Classifier(nn.Module):
    """Encoder + dropout + linear head. forward: (B, 3, T, S, S) -> logits (B, C)."""

    def __init__(self, encoder: VideoResNet, num_classes: int, *, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.out_dim, num_classes)
        nn.init.normal_(self.head.weight, std=0.01)  # mmaction's I3DHead initialisation
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.encoder.pooled_feature(x)))


def step_lr(base_lr: float, milestones: tuple[int, ...], epochs: int, iters_per_epoch: int) -> np.ndarray:
    """Step decay: lr = base_lr * 0.1 ** (milestones passed). Returns (epochs * iters_per_epoch,)."""
    epoch = np.arange(epochs * iters_per_epoch) // iters_per_epoch
    lr = base_lr * 0.1 ** np.searchsorted(np.sort(milestones), epoch, side="right")
    assert lr.shape == (epochs * iters_per_epoch,)
    return lr


def view_metrics(out: ViewOutputs) -> dict[str, float]:
    """Clip- and video-level top-1/top-5 in percent from logits (N, V, C)."""
    N, V = out.values.shape[:2]
    video = torch.arange(N).repeat_interleave(V)  # (N*V,)
    m = classification_metrics(out.values.flatten(0, 1), out.labels.repeat_interleave(V), video, N)
    return {k: round(100 * v, 2) for k, v in m.items()}


# --------------------------------------------------------------------------- fine-tuning


def train_one_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, lrs: np.ndarray, *,
                    device: torch.device, bf16: bool, grad_clip: float) -> float:
    """One pass over ``loader`` with lr ``lrs[i]`` at its step i; returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for i, batch in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = float(lrs[i])
        x, y = batch_views(batch.views, device), batch.label.to(device)  # (B, 3, T, S, S), (B,)
        with autocast(device, bf16):
            logits = model(x)  # (B, C)
        loss = F.cross_entropy(logits.float(), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite fine-tuning loss {loss.item()} at step {i}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total, count = total + loss.item() * len(y), count + len(y)
    return total / count


def predict(model: nn.Module, ds: LabeledClips, p: FinetuneParams, device: torch.device) -> ViewOutputs:
    """Logits (N, V, C) of every evaluation view."""
    model.eval()
    return forward_views(model, ds, batch_size=p.batch_size, workers=p.workers, device=device, bf16=p.bf16)


def multi_view_eval(model: nn.Module, multi: LabeledClips, p: FinetuneParams,
                    device: torch.device) -> tuple[dict, Tensor]:
    """Multi-view accuracies (and speed), and the video predictions (N,) long."""
    start = time.perf_counter()
    many = predict(model, multi, p, device)  # (N, V, C)
    N, V = many.values.shape[:2]
    pred = video_scores(many.values.flatten(0, 1), torch.arange(N).repeat_interleave(V), N).argmax(dim=1)
    metrics = {"multi_view": view_metrics(many), "views": {"clips": multi.clips, "crops": multi.crops},
               "multi_view_videos_per_second": round(N / (time.perf_counter() - start), 2)}
    return metrics, pred


class FinetuneResult(NamedTuple):
    """model: the fine-tuned classifier (on CPU); metrics: percent accuracies and counts;
    confusion: (C, C) video-level multi-view counts, rows = true class."""

    model: Classifier
    metrics: dict
    confusion: Tensor


def finetune(p: FinetuneParams, encoder: VideoResNet, train: pd.DataFrame, test: pd.DataFrame, num_classes: int,
             log: Log | None = None) -> FinetuneResult:
    """Fine-tune ``encoder`` on the ``train`` videos and evaluate on ``test`` (docs/mscl.md §6.1).

    The single-view test runs after every epoch (``log`` receives it with the training loss and
    lr); the multi-view test runs once, on the final model. No epoch is selected on test data.
    """
    device = resolve_device(p.device)
    torch.manual_seed(p.seed)  # head init and dropout
    model = Classifier(encoder, num_classes, dropout=p.dropout).to(device, memory_format=torch.channels_last_3d)
    train_ds = LabeledClips(train, num_frames=p.num_frames, train=True, crop_size=p.crop_size,
                            scale=p.crop_scale, seed=p.seed)
    single = LabeledClips(test, num_frames=p.num_frames, train=False, crop_size=p.test_crop_size)
    multi = LabeledClips(test, num_frames=p.num_frames, train=False, crop_size=p.test_crop_size,
                         clips=p.test_clips, crops=p.test_crops)
    loader = make_loader(train_ds, batch_size=p.batch_size, workers=p.workers, device=device, shuffle=True, seed=p.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    lrs = step_lr(p.lr, p.milestones, p.epochs, len(loader)).reshape(p.epochs, len(loader))
    start = time.perf_counter()
    for epoch in range(p.epochs):
        train_ds.set_epoch(epoch)
        loss = train_one_epoch(model, loader, optimizer, lrs[epoch], device=device, bf16=p.bf16, grad_clip=p.grad_clip)
        one = view_metrics(predict(model, single, p, device))  # the last epoch's is the reported one
        if log is not None:
            log({"train/loss": loss, "train/lr": float(lrs[epoch, 0]), "eval/top1": one["video_top1"]}, epoch)
    seconds = time.perf_counter() - start
    metrics, pred = multi_view_eval(model, multi, p, device)
    metrics = {"single_view": one} | metrics | {"train_videos": len(train), "test_videos": len(test),
                                                "final_train_loss": round(loss, 4), "train_seconds": round(seconds, 1)}
    return FinetuneResult(model.cpu(), metrics, confusion_matrix(pred, torch.tensor(multi.labels), num_classes))


# --------------------------------------------------------------------------- linear probe


def train_linear(x: Tensor, y: Tensor, num_classes: int, p: LinearParams) -> nn.Linear:
    """Fit a linear classifier on standardised features with SGD and a step schedule.

    Args:
        x: (N, D) standardised features; y: (N,) long.
    Returns:
        the trained nn.Linear(D, C).
    """
    g = torch.Generator().manual_seed(p.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(p.seed)
        head = nn.Linear(x.shape[1], num_classes)
    optimizer = torch.optim.SGD(head.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    steps = -(-len(x) // p.probe_batch)
    lrs = step_lr(p.lr, p.milestones, p.epochs, steps)
    for it in range(p.epochs * steps):
        if it % steps == 0:
            perm = torch.randperm(len(x), generator=g)
        rows = perm[(it % steps) * p.probe_batch : (it % steps + 1) * p.probe_batch]
        for group in optimizer.param_groups:
            group["lr"] = float(lrs[it])
        loss = F.cross_entropy(head(x[rows]), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return head


def linear_probe(p: LinearParams, encoder: VideoResNet, train: pd.DataFrame, test: pd.DataFrame,
                 num_classes: int) -> dict:
    """Linear classification of frozen clip features: percent accuracies and counts."""
    tr, te, videos_per_second = frozen_features(p, encoder, train, test)
    x = tr.values.flatten(0, 1)  # (N*V, D): every clip is a training sample
    # standardising with train statistics plays the role of a non-affine BatchNorm before the
    # linear layer (MoCo v3 / MAE linear probes): features of an untrained net have tiny scales
    mean, std = x.mean(dim=0), x.std(dim=0) + 1e-6
    head = train_linear((x - mean) / std, tr.labels.repeat_interleave(tr.values.shape[1]), num_classes, p)
    with torch.no_grad():
        logits = head((te.values - mean) / std)  # (Nt, V, C)
    metrics = view_metrics(ViewOutputs(logits, te.labels))
    return metrics | {"train_videos": len(train), "test_videos": len(test), "feature_dim": int(x.shape[1]),
                      "videos_per_second": videos_per_second}
