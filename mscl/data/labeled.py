"""Labeled clips for the downstream stages: fine-tuning, linear probe and retrieval (docs/mscl.md §6).

Training (§6.1): ``num_frames`` equal segments spread over the whole video, one random frame per
segment (TSN sampling), one random resized crop (area 0.08-1, aspect 3/4-4/3) resized to
``crop_size``, ImageNet normalisation; no flip (direction is the label in SSv2 and in our
synthetic classes). Evaluation: ``clips`` clips of the same segments, clip c taking the frame
at relative offset (c + 1/2) / clips inside every segment (one clip = the segment centres of
§6.1; several clips = evenly spaced starts with the segment length as a fixed stride), short side
resized to ``crop_size``, then 1 centre crop or 3 crops along the long side.

Frames are stored once per dataset, at ``frames.short_side``, whichever role reads them; each view
is resized at load time to the size its stage asks for (:func:`mscl.transforms.spatial.resize_frames`
on the uint8 pixels of its crop box alone, so no whole frame is converted or resized).

An item holds every view of one video, ``(V, 3, T, S, S)``, with its label and row index, so
clip scores can be averaged per video (V = 1 in training, clips x crops in evaluation).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import Dataset

from mscl.io.frames import FrameReader
from mscl.io.tables import USABLE, read_csv, read_videos
from mscl.transforms.color import normalize
from mscl.transforms.spatial import (box_slices, center_crop_box, random_resized_crop_boxes, resize_frames,
                                    three_crop_boxes)

MANIFEST_COLUMNS = ["video_id", "frames", "num_frames", "status"]


# --------------------------------------------------------------------------- tables


def class_names(videos: pd.DataFrame) -> list[str]:
    """Class names ordered by label (labels are 0 .. C-1 over the whole index)."""
    names = videos.drop_duplicates("label").set_index("label")["label_name"]
    return [str(names.get(i, i)) for i in range(int(videos["label"].max()) + 1)]


def labeled_videos(videos: pd.DataFrame, manifest: pd.DataFrame, frames_dir: str | Path, split: str,
                   column: str = "split") -> pd.DataFrame:
    """The videos of ``split`` whose frame containers are usable.

    Args:
        videos: the video index (``mscl.io.tables.VIDEO_COLUMNS``).
        manifest: the frames manifest (at least ``MANIFEST_COLUMNS``).
        frames_dir: folder the manifest's ``frames`` paths are relative to.
        column: the index's column of the official split to read (``split``, or ``split_<n>``
            of an index of several).
    Returns:
        index columns plus ``frames`` (container path) and ``num_frames``, one row per video;
        videos with an unusable status are left out (the caller counts them).
    """
    usable = manifest[manifest["status"].isin(USABLE)][["video_id", "frames", "num_frames"]]
    rows = videos[videos[column] == split].merge(usable, on="video_id", how="inner")
    rows["frames"] = [str(Path(frames_dir) / f) for f in rows["frames"]]
    return rows.astype({"num_frames": int}).reset_index(drop=True)


class SplitTables(NamedTuple):
    """The downstream videos: ``train`` and the scored split ``test`` (val or test, named
    ``split``), class names by label, and how many of their indexed videos had no usable frames."""

    train: pd.DataFrame
    test: pd.DataFrame
    split: str
    classes: list[str]
    skipped: int


def split_tables(videos_csv: str | Path, frames_dir: str | Path, *, split: str, column: str = "split") -> SplitTables:
    """Read the index and the frames manifest into the train table and that of ``split`` (val or
    test), from the index's ``column`` (:func:`labeled_videos`).

    Raises:
        ValueError: the index has no train or no ``split`` video (one line naming the split).
    """
    videos = read_videos(videos_csv)
    manifest = read_csv(Path(frames_dir) / "manifest.csv", MANIFEST_COLUMNS)
    for name in ("train", split):
        if not (videos[column] == name).any():
            raise ValueError(f"{videos_csv}: no video in the {name} split ({column})")
    train, test = (labeled_videos(videos, manifest, frames_dir, s, column) for s in ("train", split))
    indexed = int(videos[column].isin(["train", split]).sum())
    return SplitTables(train, test, split, class_names(videos), indexed - len(train) - len(test))


# --------------------------------------------------------------------------- frame indices


def segment_indices(num_frames: int, segments: int, offsets: Tensor) -> Tensor:
    """Frame index at relative ``offsets`` inside ``segments`` equal segments of a video.

    Frame i of a clip is floor((i + offset_i) * L / segments): the TSN sampling of docs/mscl.md
    §6.1; a video shorter than ``segments`` repeats frames.

    Args:
        num_frames: L, frames in the video. offsets: (..., segments) in [0, 1).
    Returns:
        (..., segments) long, in [0, L).
    """
    i = torch.arange(segments, dtype=torch.float64)
    idx = ((i + offsets.double()) * (num_frames / segments)).floor().long()
    return idx.clamp(0, num_frames - 1)


def clip_offsets(clips: int) -> Tensor:
    """Evaluation offsets (c + 1/2) / clips of clip c, shared by its segments. Returns (clips, 1)."""
    return ((torch.arange(clips, dtype=torch.float64) + 0.5) / clips)[:, None]


# --------------------------------------------------------------------------- views


def to_clip(frames: np.ndarray) -> Tensor:
    """Stored frames (T, H, W, 3) uint8 -> clip (3, T, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)


def train_view(frames: np.ndarray, generator: torch.Generator, *, crop_size: int, scale: tuple[float, float]) -> Tensor:
    """Random resized crop + ImageNet normalisation. frames (T, H, W, 3) uint8 -> (3, T, S, S) float."""
    box = random_resized_crop_boxes(1, frames.shape[1], frames.shape[2], generator, scale=scale)[0]
    rows, cols = box_slices(box)
    return normalize(to_clip(resize_frames([f[rows, cols] for f in frames], crop_size)))


def eval_boxes(height: int, width: int, crops: int) -> Tensor:
    """The boxes of the evaluation views in a ``height x width`` frame: squares of the short side,
    1 centred or 3 along the long side. Resizing a box to S x S is resizing the short side to S and
    cropping S x S there. Returns (crops, 4) long (top, left, h, w)."""
    side = min(height, width)
    if crops == 1:
        return center_crop_box(height, width, side)[None]
    if crops == 3:
        return three_crop_boxes(height, width, side)
    raise ValueError(f"crops must be 1 or 3, got {crops}")


def eval_views(frames: np.ndarray, *, crop_size: int, crops: int) -> Tensor:
    """Short side to ``crop_size``, then 1 centre or 3 long-side crops, normalised: each view
    resized from its box's uint8 pixels (:func:`eval_boxes`).

    Args:
        frames: (K, T, H, W, 3) uint8, the stored frames of K clips.
    Returns:
        (K * crops, 3, T, S, S) float, clip-major (views of clip 0 first).
    """
    boxes = [box_slices(b) for b in eval_boxes(frames.shape[2], frames.shape[3], crops)]
    views = [to_clip(resize_frames([f[rows, cols] for f in clip], crop_size))  # (3, T, S, S) each
             for clip in frames for rows, cols in boxes]
    return normalize(torch.stack(views))


# --------------------------------------------------------------------------- dataset


class LabeledItem(NamedTuple):
    """Every view of one video. views (V, 3, T, S, S) float; label and index: int (batched: (B,))."""

    views: Tensor
    label: int
    index: int


class LabeledClips(Dataset):
    """Views of the videos of one table (from :func:`labeled_videos`).

    Args:
        table: rows with ``frames``, ``num_frames``, ``label``.
        num_frames: T, segments (one frame each) per clip.
        train: training views (random) or evaluation views (deterministic).
        crop_size: output side S. scale: training crop-area range.
        clips, crops: evaluation views per video (V = clips * crops).
        seed: training randomness; item i of epoch e is drawn from (seed, e, i) alone, so
            the views do not depend on loader workers.
    """

    def __init__(self, table: pd.DataFrame, *, num_frames: int, train: bool, crop_size: int,
                 scale: tuple[float, float] = (0.08, 1.0), clips: int = 1, crops: int = 1, seed: int = 0):
        self.paths = list(table["frames"])
        self.lengths = [int(n) for n in table["num_frames"]]
        self.labels = [int(y) for y in table["label"]]
        self.num_frames, self.train, self.crop_size = num_frames, train, crop_size
        self.scale, self.clips, self.crops, self.seed = tuple(scale), clips, crops, seed
        self.epoch = 0

    @property
    def views_per_video(self) -> int:
        return 1 if self.train else self.clips * self.crops

    def set_epoch(self, epoch: int) -> None:
        """Draw the training views of epoch ``epoch`` (call before iterating a loader)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> LabeledItem:
        T, L = self.num_frames, self.lengths[i]
        if self.train:
            seed = np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1)[0]
            g = torch.Generator().manual_seed(int(seed))
            idx = segment_indices(L, T, torch.rand(T, generator=g, dtype=torch.float64))  # (T,)
        else:
            idx = segment_indices(L, T, clip_offsets(self.clips)).reshape(-1)  # (clips * T,)
        with FrameReader(self.paths[i]) as reader:
            frames = reader.read(idx.tolist())  # (K*T, H, W, 3) uint8
        if self.train:
            views = train_view(frames, g, crop_size=self.crop_size, scale=self.scale)[None]
        else:
            clips = frames.reshape(self.clips, T, *frames.shape[1:])  # (K, T, H, W, 3)
            views = eval_views(clips, crop_size=self.crop_size, crops=self.crops)
        return LabeledItem(views, self.labels[i], i)
