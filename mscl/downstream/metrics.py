"""Classification metrics: top-k accuracy, clip-to-video score aggregation, confusion matrix.

Video scores average the softmax of a video's clip logits (mmaction's ``average_clips='prob'``,
docs/mscl.md §6.1); accuracies are fractions in [0, 1].
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def topk_accuracy(scores: Tensor, labels: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose label is among the row's k highest scores, for every k.

    Args:
        scores: (N, C) logits or probabilities. labels: (N,) long in [0, C).
        ks: a k >= C counts every row as a hit.
    Returns:
        {k: accuracy}.
    """
    top = scores.topk(min(max(ks), scores.shape[1]), dim=1).indices  # (N, k_max)
    hit = top == labels[:, None]  # (N, k_max), at most one True per row
    return {k: hit[:, :k].any(dim=1).float().mean().item() for k in ks}


def video_scores(logits: Tensor, video: Tensor, num_videos: int) -> Tensor:
    """Average the clip softmax of every video.

    Args:
        logits: (N, C) clip logits. video: (N,) long, the video of each clip, in [0, V).
        num_videos: V; every video needs at least one clip.
    Returns:
        (V, C) class probabilities.
    """
    prob = logits.float().softmax(dim=1)  # (N, C)
    total = torch.zeros(num_videos, prob.shape[1], dtype=prob.dtype).index_add_(0, video, prob)
    count = torch.bincount(video, minlength=num_videos)  # (V,)
    if (count == 0).any():
        raise ValueError(f"{int((count == 0).sum())} of {num_videos} videos have no clip")
    return total / count[:, None]


def video_labels(labels: Tensor, video: Tensor, num_videos: int) -> Tensor:
    """The label of every video from its clips' labels. labels, video: (N,) -> (V,) long."""
    out = torch.full((num_videos,), -1, dtype=torch.long).index_put_((video,), labels)
    if (out < 0).any() or not torch.equal(out[video], labels):
        raise ValueError("every video needs clips, all with the same label")
    return out


def confusion_matrix(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Counts of (true, predicted) pairs. pred, labels: (N,) long -> (C, C) long, rows = true class."""
    flat = labels * num_classes + pred  # (N,)
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_metrics(logits: Tensor, labels: Tensor, video: Tensor, num_videos: int) -> dict[str, float]:
    """Clip-level and video-level top-1 / top-5 accuracy (fractions).

    Args:
        logits: (N, C) clip logits; labels, video: (N,) long.
    Returns:
        {"clip_top1", "clip_top5", "video_top1", "video_top5"}.
    """
    clip = topk_accuracy(logits, labels)
    vid = topk_accuracy(video_scores(logits, video, num_videos), video_labels(labels, video, num_videos))
    return {"clip_top1": clip[1], "clip_top5": clip[5], "video_top1": vid[1], "video_top5": vid[5]}
