"""What one frame of a synthetic video tells about its motion class (it should be nothing).

Two checks on the dataset the index stage generates (``index`` of the params file, or the
options), split as the index stage splits it, each against chance + 2 standard errors of the
test split:

* place and size: a k-nearest-neighbour classifier (Euclidean, standardised) on the object's
  true centre and radius (x, y, r) at one frame, trained on the train videos, scored on the
  test videos, at every frame 0 .. num_frames - 1;
* appearance: the linear probe of the ``linear`` stage (its clips, crops and classifier) on the
  frozen features of a randomly initialised encoder (``pretrain.backbone``, ``pretrain.width``)
  of clips that repeat one frame of each video, at the frames of ``--frames``.

The motion benchmark's data (benchmarks/motion.yaml) for each family:

    python benchmarks/shortcuts.py --speed 2.0 --videos-per-class 50 --test-fraction 0.5
    python benchmarks/shortcuts.py --speed 2.0 --videos-per-class 100 --test-fraction 0.5 --family relative
    python benchmarks/shortcuts.py --speed 2.0 --videos-per-class 100 --test-fraction 0.5 --family layers
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mscl.downstream.finetune import linear_probe
from mscl.io.frames import write_frames
from mscl.io.tables import split_of
from mscl.models.r3d import build_backbone
from mscl.params import stage_params
from mscl.synthetic import FAMILIES, Scene, pose, render_frame, video_scene


def dataset_scenes(index) -> tuple[list[Scene], list[Scene]]:
    """The scenes of the train and the test videos of the synthetic dataset of ``index`` params
    (a named dataset's; its val videos are left out)."""
    train, test = [], []
    for label in range(len(FAMILIES[index.family])):
        for n in range(index.videos_per_class):
            scene, _ = video_scene(index.seed, label, n, height=index.height, width=index.width,
                                   num_frames=index.num_frames, speed=index.speed, family=index.family)
            split = split_of(n, index.test_fraction, index.val_fraction)
            {"train": train, "test": test}.get(split, []).append(scene)
    return train, test


def chance_bound(num_classes: int, num_test: int, z: float = 2.0) -> float:
    """Chance accuracy plus ``z`` standard errors of a test set of ``num_test``, in percent."""
    p = 1 / num_classes
    return 100 * (p + z * np.sqrt(p * (1 - p) / num_test))


def knn_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, k: int = 10) -> float:
    """Percent of ``x_test`` (M, D) whose k nearest ``x_train`` (N, D) rows (Euclidean, after
    standardising with the train statistics) vote for their label; ties go to the nearest voter."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-9
    d = ((((x_test - mu) / sd)[:, None] - ((x_train - mu) / sd)[None]) ** 2).sum(-1)  # (M, N)
    nearest = np.argsort(d, 1, kind="stable")[:, :k]  # (M, k)
    votes = np.zeros((len(x_test), int(y_train.max()) + 1))
    for j in range(k):  # the nearest voters weigh a little more: they break ties
        np.add.at(votes, (np.arange(len(x_test)), y_train[nearest[:, j]]), 1 + 1e-3 * (k - j))
    return 100 * float(np.mean(votes.argmax(1) == y_test))


def place_size_knn(train: list[Scene], test: list[Scene], frames: range) -> np.ndarray:
    """kNN accuracy (percent) on the object's true (x, y, r) at each frame of ``frames``."""
    def features(scenes, t):
        return np.array([[*pose(s, t)[0], pose(s, t)[2]] for s in scenes])

    y_train, y_test = np.array([s.label for s in train]), np.array([s.label for s in test])
    return np.array([knn_accuracy(features(train, t), y_train, features(test, t), y_test) for t in frames])


def frame_table(scenes: list[Scene], t: int, folder: Path, quality: int) -> pd.DataFrame:
    """One-frame containers of frame ``t`` of every scene: the labelled table the linear probe reads
    (a one-frame video repeats its frame in every clip)."""
    rows = []
    for i, scene in enumerate(scenes):
        path = folder / f"{i:05d}.zip"
        frame = render_frame(scene, t, np.random.default_rng([i, t]))
        write_frames(path, frame[None], quality=quality, meta={})
        rows.append({"frames": str(path), "num_frames": 1, "label": scene.label})
    return pd.DataFrame(rows)


def single_frame_probe(train: list[Scene], test: list[Scene], t: int, linear, pretrain, quality: int) -> float:
    """Video top-1 (percent) of the linear probe on random-init features of clips repeating frame ``t``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(linear.seed)
        encoder = build_backbone(pretrain.backbone, pretrain.width)
    with tempfile.TemporaryDirectory() as tmp:
        tables = []
        for split, scenes in (("train", train), ("test", test)):
            (Path(tmp) / split).mkdir()
            tables.append(frame_table(scenes, t, Path(tmp) / split, quality))
        num_classes = len(FAMILIES[train[0].family])
        return float(linear_probe(linear, encoder, *tables, num_classes)["video_top1"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", default="params.yaml")
    for name, tp in (("speed", float), ("videos-per-class", int), ("test-fraction", float), ("height", int),
                     ("width", int), ("seed", int)):
        ap.add_argument(f"--{name}", type=tp, help="dataset value (default: the params file's pretrain.data)")
    ap.add_argument("--family", choices=tuple(FAMILIES))
    ap.add_argument("--frames", type=int, nargs="*", default=[0, 1, 15, 31], help="frames the linear probe sees")
    args = ap.parse_args(argv)
    datasets, linear, pretrain, frames_p = stage_params(args.params, "datasets", "linear", "pretrain", "frames")
    keys = ("speed", "videos_per_class", "test_fraction", "height", "width", "seed", "family")
    index = dataclasses.replace(datasets[pretrain.data], **{k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    train, test = dataset_scenes(index)
    bound = chance_bound(len(FAMILIES[index.family]), len(test))
    print(f"{index.family}: {len(train)} train / {len(test)} test videos {index.height}x{index.width}, "
          f"{index.num_frames} frames, speed {index.speed}; chance + 2 SE = {bound:.1f}%")
    knn = place_size_knn(train, test, range(index.num_frames))
    print(f"kNN on the object's (x, y, r): max {knn.max():.1f}% at frame {knn.argmax()}, mean {knn.mean():.1f}%; "
          "per frame " + " ".join(f"{a:.1f}" for a in knn), flush=True)
    for t in args.frames:
        top1 = single_frame_probe(train, test, t, linear, pretrain, frames_p.jpeg_quality)
        print(f"linear probe, random-init {pretrain.backbone} width {pretrain.width}, frame {t} repeated: "
              f"video top-1 {top1:.1f}%", flush=True)


if __name__ == "__main__":
    main()
