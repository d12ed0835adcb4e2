"""Pictures of the downstream results: the fine-tuning confusion matrix and retrieval neighbours.

Drawn with matplotlib's object API (``Figure``, no pyplot), which renders PNGs with Agg and
needs no display; files are written atomically.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from mscl.io.atomic import atomic_path
from mscl.io.frames import FrameReader

HIT, MISS = "#1a9641", "#d7191c"  # green / red frame around a retrieved video


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` as a PNG at ``path`` (atomically)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def plot_confusion(matrix: torch.Tensor, classes: list[str], path: str | Path) -> None:
    """Draw a confusion matrix, rows = true class, colour = row fraction, cells = counts.

    Args:
        matrix: (C, C) counts from :func:`mscl.downstream.metrics.confusion_matrix`.
    """
    C = len(classes)
    rates = (matrix.double() / matrix.sum(dim=1, keepdim=True).clamp(min=1)).numpy()
    side = float(np.clip(0.45 * C + 2, 4, 30))
    fig = Figure(figsize=(side, side))
    ax = fig.subplots()
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set(xlabel="predicted", ylabel="true", xticks=range(C), yticks=range(C), title="video-level confusion")
    fontsize = 8 if C <= 20 else 5
    ax.set_xticklabels(classes, rotation=90, fontsize=fontsize)
    ax.set_yticklabels(classes, fontsize=fontsize)
    if C <= 30:  # counts stay readable up to about 30 classes
        for (i, j), n in np.ndenumerate(matrix.numpy()):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=fontsize,
                        color="white" if rates[i, j] > 0.5 else "black")
    save_figure(fig, path)


def middle_frame(frames_path: str | Path) -> np.ndarray:
    """The middle stored frame of a video, (H, W, 3) uint8."""
    with FrameReader(frames_path) as reader:
        return reader.read([len(reader) // 2])[0]


def _tile(ax, image: np.ndarray, title: str, colour: str) -> None:
    ax.imshow(image)
    ax.set_title(title, fontsize=8, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(4)


def plot_neighbours(queries: pd.DataFrame, gallery: pd.DataFrame, neighbours: torch.Tensor, classes: list[str],
                    path: str | Path, *, count: int) -> None:
    """Draw ``count`` queries (spread over the table) with their nearest gallery videos.

    Each row: the query's middle frame, then its neighbours best first, framed green when the
    class matches the query's and red otherwise.

    Args:
        queries, gallery: tables with ``frames`` and ``label`` (rows as in the retrieval).
        neighbours: (Nq, k) gallery rows per query, best first.
    """
    picks = np.linspace(0, len(queries) - 1, min(count, len(queries))).round().astype(int)
    k = neighbours.shape[1]
    fig = Figure(figsize=(1.9 * (k + 1), 1.8 * max(len(picks), 1)))
    axes = fig.subplots(max(len(picks), 1), k + 1, squeeze=False)
    for row, q in zip(axes, picks):
        label = int(queries["label"].iloc[q])
        _tile(row[0], middle_frame(queries["frames"].iloc[q]), f"query: {classes[label]}", "black")
        for ax, g in zip(row[1:], neighbours[q].tolist()):
            found = int(gallery["label"].iloc[g])
            _tile(ax, middle_frame(gallery["frames"].iloc[g]), classes[found], HIT if found == label else MISS)
    if not len(picks):
        for ax in axes.flat:
            ax.set_axis_off()
        axes[0, 0].text(0, 0.5, "no queries", fontsize=12)
    save_figure(fig, path)
