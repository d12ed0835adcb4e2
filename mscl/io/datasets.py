"""Dataset layouts -> video records ``{video_id, path, label, label_name, split}``.

Each reader parses the official annotation files of one dataset. ``video_id`` is the video's
path relative to the videos folder without extension (unique, and usable as a relative file
name for per-video outputs); labels are 0-based.

Splits: ``test`` is the held-out set a paper reports (UCF101's and HMDB51's test lists, the
validation sets of Something-Something v2 and Kinetics, whose test labels are not public or not
what the field reports); ``val``, for tuning and the pretraining monitor, is carved from
``train`` by :func:`carve_val` where the official layout has none: whole groups of videos (all
clips of one UCF101 group, of one HMDB51 source video, of one YouTube video), so no val video
shares its actor and scene with a train video, picked by a hash of the group's name, so the
choice does not depend on which other videos are present.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Callable

from mscl.io.tables import split_of

SPLIT_FOLDERS = ("train", "val", "test")

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")


class DatasetLayoutError(ValueError):
    """The dataset root does not have the expected annotation files."""


def _find_one(root: Path, pattern: str) -> Path:
    hits = sorted(root.rglob(pattern))
    if not hits:
        raise DatasetLayoutError(f"{root}: no file matching {pattern!r}")
    return hits[0]


def _row(video_id: str, path: Path, label: int, label_name: str, split: str) -> dict:
    return {"video_id": video_id, "path": str(path), "label": label, "label_name": label_name, "split": split}


def _record(videos: Path, rel: str, label: int, label_name: str, split: str) -> dict:
    """A video under ``videos`` at relative path ``rel``, whose id is ``rel`` without extension."""
    return _row(str(Path(rel).with_suffix("")).replace("\\", "/"), videos / rel, label, label_name, split)


def _video_files(folder: Path) -> dict[str, Path]:
    """Map of file stem -> path for every video file under ``folder``."""
    return {p.stem: p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS}


def ucf101_records(root: Path, split: int) -> list[dict]:
    """UCF101: ``classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0N.txt`` / ``testlist0N.txt``
    ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi [label]"); videos under ``<class>/`` folders."""
    class_ind = _find_one(root, "classInd.txt")
    names = {}
    for line in class_ind.read_text().split("\n"):
        if line.strip():
            num, name = line.split()
            names[name.lower()] = (int(num) - 1, name)  # folder case differs for a few classes
    videos = _find_one(root, "v_*_g*_c*.*").parent.parent
    records = []
    for split_name, fname in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        list_file = class_ind.parent / fname
        if not list_file.exists():
            raise DatasetLayoutError(f"{root}: missing split file {fname}")
        for line in list_file.read_text().split("\n"):
            if line.strip():
                rel = line.split()[0]
                label, name = names[rel.split("/")[0].lower()]
                records.append(_record(videos, rel, label, name, split_name))
    return records


def hmdb51_records(root: Path, split: int) -> list[dict]:
    """HMDB51: ``<class>_test_split<N>.txt`` with lines "<video> <flag>" (1 train, 2 test,
    0 unused); videos under ``<class>/`` folders."""
    split_files = sorted(root.rglob(f"*_test_split{split}.txt"))
    if not split_files:
        raise DatasetLayoutError(f"{root}: no *_test_split{split}.txt files")
    classes = sorted(f.name[: -len(f"_test_split{split}.txt")] for f in split_files)
    files = _video_files(root)
    records = []
    for f in split_files:
        cls = f.name[: -len(f"_test_split{split}.txt")]
        for line in f.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("1", "2"):
                path = files.get(Path(parts[0]).stem)
                if path is None:
                    raise DatasetLayoutError(f"{f.name}: video {parts[0]} not found under {root}")
                rel = str(path.relative_to(path.parent.parent))
                records.append(_record(path.parent.parent, rel, classes.index(cls), cls, "train" if parts[1] == "1" else "test"))
    return records


def ssv2_records(root: Path) -> list[dict]:
    """Something-Something v2: ``labels.json`` (template -> id), ``train.json`` and
    ``validation.json`` (lists of {id, template, ...}; validation is the ``test`` split, the one
    reported); videos ``<id>.webm``."""
    labels = json.loads(_find_one(root, "labels.json").read_text())
    files = _video_files(root)
    names = {int(v): k for k, v in labels.items()}
    records = []
    for split_name, fname in (("train", "train.json"), ("test", "validation.json")):
        for item in json.loads(_find_one(root, fname).read_text()):
            label = int(labels[item["template"].replace("[", "").replace("]", "")])
            path = files.get(str(item["id"]))
            if path is not None:
                records.append(_row(str(item["id"]), path, label, names[label], split_name))
    return records


def kinetics_records(root: Path) -> list[dict]:
    """Kinetics: csv files with ``label, youtube_id, time_start, time_end, split``; videos named
    ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` anywhere under ``root``. The official ``validate``
    rows are the ``test`` split (what the field reports); official ``test`` rows are not indexed."""
    rows = []
    for f in sorted(root.rglob("*.csv")):
        with open(f, newline="") as fh:
            reader = csv.DictReader(fh)
            if {"label", "youtube_id", "time_start", "time_end", "split"} <= set(reader.fieldnames or []):
                rows.extend(reader)
    if not rows:
        raise DatasetLayoutError(f"{root}: no Kinetics annotation csv")
    classes = sorted({r["label"] for r in rows})
    files = _video_files(root)
    records = []
    for r in rows:
        stem = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}"
        split = {"train": "train", "validate": "test", "validation": "test", "val": "test"}.get(r["split"])
        if stem in files and split is not None:
            records.append(_row(stem, files[stem], classes.index(r["label"]), r["label"], split))
    return records


def folder_records(root: Path, test_fraction: float, val_fraction: float) -> list[dict]:
    """A plain folder of class folders, in one of two layouts:

    - ``root/<class>/<video>``: the i-th video of a class (sorted by name) goes to the split
      :func:`mscl.io.tables.split_of` gives it (about ``test_fraction`` to test, ``val_fraction``
      to val);
    - ``root/train/<class>/<video>``, ``root/test/...`` and optionally ``root/val/...`` (the
      user's own splits, as torchvision's ImageFolder datasets are laid out): each video keeps the
      split of its folder, and both fractions must be 0.
    """
    if (root / "train").is_dir() and {p.name for p in root.iterdir() if p.is_dir()} <= set(SPLIT_FOLDERS):
        if test_fraction or val_fraction:
            raise DatasetLayoutError(f"{root}: the train/val/test folders are the splits; set test_fraction and "
                                     "val_fraction to 0")
        folders = {split: root / split for split in SPLIT_FOLDERS if (root / split).is_dir()}
        classes = sorted({p.name for f in folders.values() for p in f.iterdir() if p.is_dir()})
        return [_record(root, f"{split}/{cls}/{p.name}", label, cls, split)
                for split, folder in folders.items() for label, cls in enumerate(classes)
                for p in _videos_in(folder / cls)]
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DatasetLayoutError(f"{root}: no class folders")
    return [_record(root, f"{cls}/{p.name}", label, cls, split_of(i, test_fraction, val_fraction))
            for label, cls in enumerate(classes) for i, p in enumerate(_videos_in(root / cls))]


def _videos_in(folder: Path) -> list[Path]:
    """The video files directly in ``folder``, sorted by name (none when it does not exist)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS) if folder.is_dir() else []


# --------------------------------------------------------------------------- a val split from train


def ucf101_group(video_id: str) -> str:
    """UCF101's group (one actor and scene, 4-7 clips): ``Class/v_Class_g08_c01`` -> ``Class/v_Class_g08``."""
    return re.sub(r"_c\d+$", "", video_id)


def hmdb51_group(video_id: str) -> str:
    """HMDB51's source video: the clip name without its trailing clip number ``_<n>``."""
    return video_id.rsplit("_", 1)[0]


def kinetics_group(video_id: str) -> str:
    """The YouTube id of a Kinetics clip ``<youtube_id>_<start>_<end>``."""
    return video_id.rsplit("_", 2)[0]


def carve_val(records: list[dict], val_fraction: float, group: Callable[[str], str] = lambda v: v) -> list[dict]:
    """``records`` with ``round(val_fraction * n)`` of the n train groups of every class moved to
    ``val``: the groups (``group(video_id)``) whose SHA-1 of the name comes first, so a group's
    split depends on its name and its class's group count only."""
    groups: dict[int, set[str]] = {}
    for r in records:
        if r["split"] == "train":
            groups.setdefault(r["label"], set()).add(group(r["video_id"]))
    val = set()
    for names in groups.values():
        ranked = sorted(names, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        val |= set(ranked[: round(val_fraction * len(ranked))])
    return [{**r, "split": "val"} if r["split"] == "train" and group(r["video_id"]) in val else r for r in records]


def merge_splits(by_split: dict[int, list[dict]]) -> list[dict]:
    """One record per video from the records of several official splits ``{number: records}``:
    column ``split_<number>`` holds the video's split in each ("" where that split leaves it
    out, as HMDB51 does a third of its videos) and ``split`` its split in the first listed."""
    first = next(iter(by_split))
    merged: dict[str, dict] = {}
    for number, records in by_split.items():
        for r in records:
            merged.setdefault(r["video_id"], {**r, "split": ""})[f"split_{number}"] = r["split"]
    out = []
    for r in merged.values():
        row = {**r, **{f"split_{n}": r.get(f"split_{n}", "") for n in by_split}}
        out.append({**row, "split": row[f"split_{first}"]})
    return out
