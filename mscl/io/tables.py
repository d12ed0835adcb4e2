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


def videos_frame(records: list[dict]) -> pd.DataFrame:
    """The video index as a DataFrame with ``VIDEO_COLUMNS``, checked for duplicates and splits."""
    df = pd.DataFrame(records, columns=VIDEO_COLUMNS)
    dup = df["video_id"][df["video_id"].duplicated()]
    if len(dup):
        raise ValueError(f"duplicate video ids in the index, e.g. {dup.iloc[0]!r}")
    bad = set(df["split"]) - set(SPLITS)
    if bad:
        raise ValueError(f"unknown split names {sorted(bad)}; expected {SPLITS}")
    return df.astype({"label": int})


def read_videos(path: str | Path) -> pd.DataFrame:
    """Read ``videos.csv`` (columns ``VIDEO_COLUMNS``)."""
    return read_csv(path, VIDEO_COLUMNS).astype({"label": int})


def is_test(i: int, test_fraction: float) -> bool:
    """Deterministic split of the i-th video of a class: about ``test_fraction`` go to test."""
    return test_fraction > 0 and int((i + 1) * test_fraction) > int(i * test_fraction)
