"""CSV tables passed between stages: the video index and per-stage manifests."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mscl.io.atomic import atomic_path

VIDEO_COLUMNS = ["video_id", "path", "label", "label_name", "split"]
SPLITS = ("train", "val", "test")
USABLE = ("ok", "partial")  # manifest statuses whose files later stages may read


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Atomically write ``df`` as CSV without the index."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_csv(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """Read a CSV written by a stage and check that it has ``columns``."""
    df = pd.read_csv(path, dtype={"video_id": str}, keep_default_na=False)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {list(df.columns)})")
    return df


def split_columns(videos: pd.DataFrame) -> list[str]:
    """The index's columns of official splits: ``split_1``, ``split_2``, ... where it holds several
    (:func:`mscl.io.datasets.merge_splits`), else ``split`` alone."""
    several = sorted(c for c in videos.columns if c.startswith("split_"))
    return several or ["split"]


def videos_frame(records: list[dict]) -> pd.DataFrame:
    """The video index as a DataFrame with ``VIDEO_COLUMNS`` (and the ``split_<n>`` columns of
    several official splits), checked for duplicates and split names ("" in a ``split_<n>``
    column: that split leaves the video out)."""
    extra = sorted({k for r in records for k in r if k.startswith("split_")})
    df = pd.DataFrame(records, columns=VIDEO_COLUMNS + extra)
    dup = df["video_id"][df["video_id"].duplicated()]
    if len(dup):
        raise ValueError(f"duplicate video ids in the index, e.g. {dup.iloc[0]!r}")
    for column in ["split", *extra]:
        bad = set(df[column]) - set(SPLITS) - ({""} if extra else set())
        if bad:
            raise ValueError(f"unknown split names {sorted(bad)} in column {column}; expected {SPLITS}")
    return df.astype({"label": int})


def read_videos(path: str | Path) -> pd.DataFrame:
    """Read ``videos.csv`` (columns ``VIDEO_COLUMNS``)."""
    return read_csv(path, VIDEO_COLUMNS).astype({"label": int})


def is_test(i: int, test_fraction: float) -> bool:
    """Deterministic split of the i-th video of a class: about ``test_fraction`` go to test."""
    return test_fraction > 0 and int((i + 1) * test_fraction) > int(i * test_fraction)


def split_of(i: int, test_fraction: float, val_fraction: float) -> str:
    """Deterministic split of the i-th video of a class: of n videos, ``int(n * test_fraction)``
    go to test (the videos :func:`is_test` picks, whatever ``val_fraction``), then about
    ``val_fraction`` of n to val, spread evenly over the others; the rest is train.

    Needs ``test_fraction + val_fraction < 1``.
    """
    if is_test(i, test_fraction):
        return "test"
    rest = i - int(i * test_fraction)  # non-test videos before this one: is_test picked int(i * f) of i
    return "val" if is_test(rest, val_fraction / (1.0 - test_fraction)) else "train"
