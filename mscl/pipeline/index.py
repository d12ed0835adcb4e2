"""Stage ``index``: list the videos of the configured dataset (generating the synthetic one)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from mscl.io.atomic import write_json
from mscl.io.datasets import (DatasetLayoutError, folder_records, hmdb51_records, kinetics_records, ssv2_records,
                              ucf101_records)
from mscl.io.tables import SPLITS, videos_frame, write_csv
from mscl.params import IndexParams, stage_params
from mscl.pipeline.cli import stage_parser
from mscl.synthetic import generate


def build_index(p: IndexParams, raw_dir: str | Path) -> pd.DataFrame:
    """The video index of ``p.source``: generated into ``raw_dir`` for ``synthetic``, else parsed
    from the dataset at ``p.root``."""
    if p.source == "synthetic":
        records = generate(raw_dir, videos_per_class=p.videos_per_class, num_frames=p.num_frames, height=p.height,
                           width=p.width, fps=p.fps, speed=p.speed, test_fraction=p.test_fraction, seed=p.seed,
                           family=p.family)
        return videos_frame(records)
    root = Path(p.root)
    if not p.root or not root.is_dir():
        raise DatasetLayoutError(f"index.root = {p.root!r} is not a folder (needed for index.source = {p.source!r})")
    if p.source == "folder":
        records = folder_records(root, p.test_fraction)
    elif p.source == "ucf101":
        records = ucf101_records(root, p.split)
    elif p.source == "hmdb51":
        records = hmdb51_records(root, p.split)
    elif p.source == "ssv2":
        records = ssv2_records(root)
    else:
        records = kinetics_records(root)
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
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p = stage_params(args.params, "index")
    shutil.rmtree(args.raw_dir, ignore_errors=True)
    Path(args.raw_dir).mkdir(parents=True)
    videos = build_index(p, args.raw_dir)
    write_csv(videos, args.videos_csv)
    write_json(args.log, index_metrics(videos))
    print(f"index: {len(videos)} videos of {videos['label'].nunique()} classes -> {args.videos_csv}")
