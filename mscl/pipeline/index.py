"""Stage ``index``: list the videos of one named dataset (generating the synthetic one), with
their train / val / test split."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from mscl.io.atomic import write_json
from mscl.io.datasets import (DatasetLayoutError, carve_val, folder_records, hmdb51_group, hmdb51_records,
                              kinetics_group, kinetics_records, merge_splits, ssv2_records, ucf101_group,
                              ucf101_records)
from mscl.io.tables import SPLITS, videos_frame, write_csv
from mscl.params import DatasetParams, stage_params
from mscl.pipeline.cli import stage_parser
from mscl.synthetic import generate


def build_index(p: DatasetParams, raw_dir: str | Path) -> pd.DataFrame:
    """The video index of dataset ``p``: generated into ``raw_dir`` for ``synthetic``, else parsed
    from the dataset at ``p.root``, val carved from train where the layout has none
    (:func:`mscl.io.datasets.carve_val`); with several official ``splits``, one column each."""
    if p.source == "synthetic":
        records = generate(raw_dir, videos_per_class=p.videos_per_class, num_frames=p.num_frames, height=p.height,
                           width=p.width, fps=p.fps, speed=p.speed, test_fraction=p.test_fraction,
                           val_fraction=p.val_fraction, seed=p.seed, family=p.family)
        return videos_frame(records)
    root = Path(p.root)
    if not p.root or not root.is_dir():
        raise DatasetLayoutError(f"root = {p.root!r} is not a folder (needed for source {p.source!r})")
    if p.source == "folder":
        records = folder_records(root, p.test_fraction, p.val_fraction)
    elif p.source in ("ucf101", "hmdb51"):
        read, group = (ucf101_records, ucf101_group) if p.source == "ucf101" else (hmdb51_records, hmdb51_group)
        by_split = {n: carve_val(read(root, n), p.val_fraction, group) for n in p.splits}
        records = by_split[p.splits[0]] if len(p.splits) == 1 else merge_splits(by_split)
    elif p.source == "ssv2":
        records = carve_val(ssv2_records(root), p.val_fraction)
    else:
        records = carve_val(kinetics_records(root), p.val_fraction, kinetics_group)
    if not records:
        raise DatasetLayoutError(f"{root}: the {p.source} layout yielded no videos")
    return videos_frame(records)


def index_metrics(videos: pd.DataFrame) -> dict:
    """Video counts per split and the number of classes."""
    counts = videos["split"].value_counts()
    return {"videos": len(videos), "classes": int(videos["label"].nunique()), **{s: int(counts.get(s, 0)) for s in SPLITS}}


PATHS = {
    "videos_csv": "output: the video index",
    "raw_dir": "output: generated videos (synthetic source; empty otherwise)",
    "log": "output: the run's log (counts, statuses, timings; json)",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS, dataset=True).parse_args(argv)
    datasets = stage_params(args.params, "datasets")
    if args.dataset not in datasets:
        raise SystemExit(f"error: {args.params}: no dataset named {args.dataset!r} (datasets: {', '.join(datasets)})")
    p = datasets[args.dataset]
    shutil.rmtree(args.raw_dir, ignore_errors=True)
    Path(args.raw_dir).mkdir(parents=True)
    try:
        videos = build_index(p, args.raw_dir)
    except DatasetLayoutError as e:
        raise SystemExit(f"error: datasets.{args.dataset}: {e}") from None
    write_csv(videos, args.videos_csv)
    metrics = index_metrics(videos)
    write_json(args.log, metrics)
    print(f"index ({args.dataset}): {len(videos)} videos of {metrics['classes']} classes, "
          + ", ".join(f"{metrics[s]} {s}" for s in SPLITS) + f" -> {args.videos_csv}")
